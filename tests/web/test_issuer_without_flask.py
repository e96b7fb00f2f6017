"""The issuer is Authlib's framework-agnostic authorization server: built from an IssuerConfig
by hand, answering Authlib's own request object, with no Flask app or request in sight. What a
Flask adapter adds (hub.web.issuer_server) is only how a request and an answer are spelled."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import requests
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import has_app_context, has_request_context

from hub.core.db import write_transaction
from hub.issuer import applications, context
from hub.issuer.access_tokens import validate_access_token
from hub.issuer.config import IssuerConfig
from hub.issuer.context import Exchange
from hub.issuer.server import HubAuthorizationServer, assemble


class PlainServer(HubAuthorizationServer):
    """The smallest framework adapter: the request is Authlib's already, the answer a tuple."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any]:
        return status, body


class FormRequest(OAuth2Request):
    """Authlib's request with a form body, as a framework adapter would build it."""

    def __init__(self, headers: dict[str, str], form: dict[str, str]) -> None:
        super().__init__("POST", "https://hub.example/oauth2/token", headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form


def a_token_request(client_id: str, secret: str, **form: str) -> OAuth2Request:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return FormRequest({"Authorization": f"Basic {basic}"}, form)


def test_a_client_credentials_token_without_flask(app):
    rt = app.extensions["hub"]
    config = IssuerConfig(
        issuer=rt.settings.base_url.rstrip("/"),
        secret_key=rt.keys.secret_key,
        signing_keys=rt.signing_keys,
        hook=rt.pm.hook,
        refresh_reuse_grace=timedelta(0),
        http=requests.Session(),
    )
    server = assemble(PlainServer(config))
    with write_transaction(rt.db) as session:
        service = applications.create(session, "Reports", ["https://reports.example/cb"], grant_types=["client_credentials"])
    client_id, secret = service.application.client_id, service.client_secret
    assert secret is not None
    rt.signing_keys.prepare()

    form = {"grant_type": "client_credentials"}
    with write_transaction(rt.db) as session, context.opened(Exchange("token", form, form, session)) as exchange:
        assert not has_app_context() and not has_request_context()
        status, body = server.create_token_response(a_token_request(client_id, secret, **form))
        refused, _ = server.create_token_response(a_token_request(client_id, "wrong", **form))

    assert status == 200
    token = json.loads(body) if isinstance(body, str) else body
    assert token["token_type"] == "Bearer"
    assert exchange.client_id == client_id  # the authenticated client names the exchange
    assert [(event, outcome) for event, outcome, _ in exchange.events] == [("issuer.token", "success"), ("issuer.token", "failure")]
    assert refused == 401
    with rt.db.session() as session:
        validated = validate_access_token(config, session, token["access_token"])
    assert validated is not None and validated.get_user() is None  # the application acting as itself


def test_importing_the_issuer_loads_neither_flask_nor_the_runtime():
    """Not only its own imports (tests/unit/test_house.py checks those): nothing it pulls in does."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, hub.issuer.server, hub.issuer.context; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    modules = set(json.loads(loaded.replace("'", '"')))
    assert not modules & {"flask", "werkzeug", "hub.runtime", "hub.web", "hub.upstream.http"}
