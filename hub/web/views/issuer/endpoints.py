"""The issuer's back-channel endpoints: token, userinfo, revocation and introspection, with the
token endpoint's rate-limit key."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Response, request

from hub.core import metrics
from hub.web import ratelimit, upstream_checks
from hub.web.issuer_server import issuer_server
from hub.web.plugin_routes import server_to_server
from hub.web.request import runtime
from hub.web.views.issuer.blueprint import bp
from hub.web.views.issuer.transaction import authenticated_client_id, in_transaction


def application_of_request() -> str:
    """The rate-limit key of a token request: the application it names (HTTP Basic user,
    `client_id`, or a client assertion's unverified `sub`) *from this client address*, else the
    address alone. Only a bucket name: authentication happens later, in the grant. The address
    is part of the key because the named client id is unauthenticated here: keyed on it alone,
    anyone could spend a real application's allowance by sending bogus requests in its name."""
    auth = request.authorization
    client_id = auth.username if auth is not None and auth.type == "basic" else None
    client_id = client_id or request.form.get("client_id") or _assertion_subject(request.form.get("client_assertion"))
    address = ratelimit.client_address()
    if client_id and len(client_id) <= 128 and client_id.isprintable():
        return f"app:{client_id}@{address}"
    return address


def _assertion_subject(assertion: str | None) -> str | None:
    if not assertion or len(assertion) > 8192 or assertion.count(".") != 2:
        return None
    payload = assertion.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else None


def _answered_client(response: Response) -> Response:
    """A back-channel endpoint answers 2xx only to an authenticated client (or a live access
    token at userinfo): such an answer spends no `anonymous` allowance (hub.web.ratelimit)."""
    if response.status_code < 400:
        ratelimit.authenticated()
    return response


@bp.post("/oauth2/token")
@server_to_server
@ratelimit.limit("token", key=application_of_request)
def token() -> Any:
    upstream_checks.confirm_before_refresh(runtime())
    response = _answered_client(in_transaction(lambda: issuer_server().create_token_response()))
    outcome = "success" if response.status_code == 200 else (response.get_json(silent=True) or {}).get("error", "error")
    metrics.issuer_grant(request.form.get("grant_type", ""), authenticated_client_id() or "unknown", outcome)
    return response


@bp.route("/oauth2/userinfo", methods=["GET", "POST"])
@server_to_server
def userinfo() -> Any:
    response = _answered_client(in_transaction(lambda: issuer_server().create_endpoint_response("userinfo")))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oauth2/revoke")
@server_to_server
def revoke() -> Any:
    return _answered_client(in_transaction(lambda: issuer_server().create_endpoint_response("revocation")))


@bp.post("/oauth2/introspect")
@server_to_server
def introspect() -> Any:
    response = _answered_client(in_transaction(lambda: issuer_server().create_endpoint_response("introspection")))
    response.headers["Cache-Control"] = "no-store"
    return response
