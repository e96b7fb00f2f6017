"""Upstream tokens for applications, where the two halves of the hub meet:
`GET /api/v1/me/provider-token?provider=<id>` with a hub access token as Bearer returns the
person's valid access token at that upstream provider (for example for Microsoft Graph).

The hub access token must be live (hub.issuer.access_tokens.validate_access_token: signed by the hub,
unexpired, its application enabled, its person enabled, its grant and token family not
revoked, so "Remove access" and disabling stop it at once) and carry the scope
`provider_tokens`, which the person consented to like any other. The upstream token comes from
the vault, refreshed single-flight when it is near expiry, so the answer is never an expired
token (Keycloak's broker token endpoint hands those out: keycloak#46373, #49341). Every call,
granted or refused, is an audit event `provider_token.use` naming the application.

Errors are JSON `{"error": {"code", "message", "hint", "request_id"}}` (docs/applications.md):
`invalid_token` 401 (with `WWW-Authenticate: Bearer`), `insufficient_scope` 403,
`bad_request` 400, `not_found` 404, `user_disabled` 403, `reauth_required` 409,
`provider_unavailable` 503.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from hub.actions import upstream_tokens
from hub.core.errors import HubError, NotFound
from hub.core.models import Application, LinkedAccount
from hub.issuer.access_tokens import validate_access_token
from hub.web import flood, ratelimit
from hub.web.issuer_server import issuer_server
from hub.web.request import audit_context, bearer_token, runtime
from hub.web.views.errors import respond

bp = Blueprint("provider_token", __name__, url_prefix="/api/v1")

SCOPE = "provider_tokens"
EVENT = "provider_token.use"
MAX_TOKEN_LENGTH = 8192


class InvalidToken(HubError):
    code = "invalid_token"
    status = 401
    title = "The access token is not valid"
    hint = "Send a live hub access token as `Authorization: Bearer ...`; sign the person in again if it expired."


class InsufficientScope(HubError):
    code = "insufficient_scope"
    status = 403
    title = "The access token lacks the provider_tokens scope"
    hint = "Ask for the scope `provider_tokens` when the person signs in (they are asked to consent)."


class BadRequest(HubError):
    code = "bad_request"
    status = 400
    title = "The request is incomplete"
    hint = "Name the provider: /api/v1/me/provider-token?provider=<provider id>."


@bp.get("/me/provider-token")
def provider_token() -> Response | tuple[Any, int]:
    rt = runtime()
    context = audit_context()
    details: dict[str, Any] = {
        "provider_id": request.args.get("provider", "")[:64] or None, "caller": "application", "via": "api",
    }
    user_id: int | None = None
    try:
        application, user_id, scopes = _bearer(rt)
        ratelimit.authenticated()
        details.update(application=application.name, client_id=application.client_id)
        if SCOPE not in scopes:
            raise InsufficientScope(f"{application.name} was not granted the scope {SCOPE}.")
        account = _account(rt, user_id, request.args.get("provider", ""))
        details["linked_account_id"] = account.id
        caller = upstream_tokens.Caller(
            "application", {"application": application.name, "client_id": application.client_id}
        )
        token = upstream_tokens.hand_out(rt.db, rt.audit, rt.vault, rt.providers, caller, account, context)
    except HubError as error:
        g.failure_audited = True
        client_id = details.get("client_id")
        flood.record_failure(
            EVENT, reason=error.code,
            provider_id=details["provider_id"] if details["provider_id"] in rt.providers else None,
            source=f"client:{client_id}" if client_id else None,
            subject_user_id=user_id, details=details,
        )
        return _error(error)
    g.no_store = True
    return jsonify(
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        access_token=token.value,
        expires_at=token.expires_at.isoformat() if token.expires_at else None,
        provider=account.provider_id,
    )


def _bearer(rt: Any) -> tuple[Application, int, list[str]]:
    """The application and person of the request's hub access token, and its scopes."""
    presented = bearer_token()
    if not presented or len(presented) > MAX_TOKEN_LENGTH:
        raise InvalidToken("No hub access token was sent as a Bearer token.")
    with rt.db.session() as session:
        validated = validate_access_token(issuer_server().config, session, presented)
        subject = validated.get_user() if validated is not None else None
        if validated is None or subject is None:
            raise InvalidToken(
                "The access token is not a live hub access token for a person (expired, revoked, "
                "its access removed, its application or its person disabled)."
            )
        return subject.application, subject.user.id, validated.get_scope().split()


def _account(rt: Any, user_id: int, provider_id: str) -> LinkedAccount:
    """The person's account at that provider. A person has at most one per provider here; the
    newest wins if an administrator linked several."""
    if not provider_id:
        raise BadRequest("The query parameter `provider` is missing.")
    with rt.db.session() as session:
        account = session.scalars(
            select(LinkedAccount)
            .where(LinkedAccount.user_id == user_id, LinkedAccount.provider_id == provider_id[:64])
            .order_by(LinkedAccount.linked_at.desc())
            .limit(1)
        ).first()
    if account is None:
        raise NotFound(f"This person has no linked account at provider {provider_id[:64]!r}.")
    return account


def _error(error: HubError) -> Any:
    response = respond(error.status, error.code, error.title, error.message, error.hint, error.provider_code)
    if isinstance(error, InvalidToken | InsufficientScope):
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="{error.code}"' + (f', scope="{SCOPE}"' if isinstance(error, InsufficientScope) else "")
        )
    return response
