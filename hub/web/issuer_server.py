"""The issuer's Flask adapter: Authlib's authorization server speaking Flask requests and
responses, built from the Runtime's collaborators (what authlib.integrations.flask_oauth2 adds)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest, FlaskOAuth2Request
from flask import Flask, Response, current_app, json, request

from hub.issuer.config import IssuerConfig
from hub.issuer.server import HubAuthorizationServer, assemble
from hub.runtime import Runtime
from hub.upstream.http import ProviderSession

JWKS_FETCH_TIMEOUT = (2.0, 5.0)
"""Connect and read timeouts for an application's jwks_uri: a token request waits on it."""


class FlaskIssuerServer(HubAuthorizationServer):
    """The hub's authorization server answering the current Flask request."""

    def create_oauth2_request(self, _request: Any) -> FlaskOAuth2Request:
        return FlaskOAuth2Request(request)

    def create_json_request(self, _request: Any) -> FlaskJsonRequest:
        return FlaskJsonRequest(request)

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        return Response(payload, status=status_code, headers=headers)


def issuer_config(rt: Runtime) -> IssuerConfig:
    """The issuer's collaborators, from the Runtime."""
    return IssuerConfig(
        issuer=rt.settings.base_url.rstrip("/"),
        secret_key=rt.keys.secret_key,
        signing_keys=rt.signing_keys,
        hook=rt.pm.hook,
        refresh_reuse_grace=timedelta(seconds=rt.settings.refresh_reuse_grace_seconds),
        http=ProviderSession(timeout=JWKS_FETCH_TIMEOUT),
        account_check=rt.checks.refusal_for_family,
    )


def install(app: Flask, rt: Runtime) -> FlaskIssuerServer:
    """The issuer's authorization server for one app (app.extensions["hub.issuer"])."""
    server = FlaskIssuerServer(issuer_config(rt))
    assemble(server)
    app.extensions["hub.issuer"] = server
    return server


def issuer_server() -> FlaskIssuerServer:
    """The current app's authorization server."""
    return current_app.extensions["hub.issuer"]
