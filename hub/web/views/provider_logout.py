"""Provider-initiated sign-out: back-channel logout tokens and front-channel logout requests.

The identity provider tells the hub that a person signed out there; the hub ends the sessions
that sign-in created. The back-channel POST comes from the provider's server (no browser, so
no CSRF token: hub.web.app exempts exactly this route); the front-channel GET comes from a hidden
iframe on the provider's sign-out page, so only that route may be framed, and only by the
provider's origin.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from hub.core import sessions
from hub.core.db import write_transaction
from hub.core.errors import HubError, NotFound
from hub.core.models import LinkedAccount
from hub.upstream import replay
from hub.upstream.provider import LogoutRequest, ProviderType
from hub.web import flood, ratelimit
from hub.web.request import audit_context, runtime

bp = Blueprint("provider_logout", __name__)
ratelimit.limit("logout")(bp)

BACKCHANNEL_ENDPOINT = "provider_logout.backchannel"
"""The one endpoint exempt from the CSRF check (see hub.web.app)."""

SIGNED_OUT_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Signed out</title>"
    "<p>You are signed out of the hub.</p></html>"
)


@bp.post("/auth/<provider_id>/backchannel-logout")
def backchannel(provider_id: str) -> Response:
    """200 when the logout token is valid (whether or not a session matched, as the spec
    asks); 400 on any invalid token, and then no session ends."""
    provider = _provider(provider_id)
    token = request.form.get("logout_token", "")
    if not token:
        _audit_failure(provider_id, "backchannel", "logout_token_missing")
        return _plain(400, {"error": "invalid_request", "error_description": "logout_token is required."})
    try:
        logout = provider.backchannel_logout(token)
    except HubError as error:
        _audit_failure(provider_id, "backchannel", error.code)
        return _plain(400, {"error": "invalid_request", "error_description": error.message})
    if logout is None:
        raise NotFound(f"Provider {provider_id!r} does not support back-channel logout.")
    try:
        _end_sessions(provider_id, logout, "backchannel")
    except Replayed:
        _audit_failure(provider_id, "backchannel", "logout_token_replayed")
        return _plain(400, {"error": "invalid_request", "error_description": "This logout token was already used."})
    return _plain(200, {})


@bp.get("/auth/<provider_id>/frontchannel-logout")
def frontchannel(provider_id: str) -> tuple[str, int]:
    """End the sessions of the provider session named by `sid` and answer a tiny page the
    provider's sign-out page may frame."""
    provider = _provider(provider_id)
    g.no_store = True
    try:
        sid = provider.frontchannel_logout(request.args.to_dict(flat=True))
    except HubError:
        _audit_failure(provider_id, "frontchannel", "logout_request_invalid")
        raise
    if sid is None:
        raise NotFound(f"Provider {provider_id!r} does not support front-channel logout.")
    g.frame_ancestors = " ".join(provider.frontchannel_origins) or "'none'"
    _end_sessions(provider_id, LogoutRequest(sid=sid), "frontchannel")
    return SIGNED_OUT_PAGE, 200


def _provider(provider_id: str) -> ProviderType:
    provider = runtime().registry.get(provider_id)
    if provider is None:
        raise NotFound(f"There is no provider {provider_id!r} on this hub.")
    return provider


class Replayed(Exception):
    """A back-channel logout token whose jti was already acted on (hub.upstream.replay)."""


def _end_sessions(provider_id: str, logout: LogoutRequest, via: str) -> None:
    """End the sessions and audit each person signed out, in one transaction with recording
    the token's jti (a replay raises Replayed and ends nothing, in any worker). A front-channel
    request that ended nothing is anyone's forgery or a stale iframe: counted in aggregate
    (hub.web.flood), never a success event."""
    rt = runtime()
    try:
        with write_transaction(rt.db) as session:
            if logout.jti is not None and not replay.remember(session, provider_id, logout.jti, logout.expires_at):
                raise Replayed
            user_ids = _revoke(session, provider_id, logout)
            ended_nothing = not user_ids and via == "frontchannel"
            for user_id in [] if ended_nothing else sorted(set(user_ids)) or [None]:
                rt.audit.record(
                    session,
                    "logout",
                    "success",
                    subject_user_id=user_id,
                    provider_id=provider_id,
                    context=audit_context(),
                    details={"via": via, "sessions": user_ids.count(user_id) if user_id else 0},
                )
    except IntegrityError:  # a concurrent request with the same jti committed first
        raise Replayed from None
    if ended_nothing:
        flood.record_failure("logout", reason="no_session_matched", provider_id=provider_id, details={"via": via})


def _revoke(session: Session, provider_id: str, logout: LogoutRequest) -> list[int]:
    """By sid when the provider names one (narrowed to the subject when both are sent),
    otherwise every session signed in through that person's linked account."""
    if logout.subject is None:
        if logout.sid is None:
            return []
        ended = sessions.end_sessions(session, provider_id=provider_id, provider_session_id=logout.sid, reason="provider_logout")
        return [row.user_id for row in ended]
    account_id = session.scalar(
        select(LinkedAccount.id).where(LinkedAccount.provider_id == provider_id, LinkedAccount.subject == logout.subject)
    )
    if account_id is None:
        return []
    ended = sessions.end_sessions(
        session,
        provider_id=provider_id,
        linked_account_id=account_id,
        provider_session_id=logout.sid,
        reason="provider_logout",
    )
    return [row.user_id for row in ended]


def _audit_failure(provider_id: str, via: str, reason: str) -> None:
    """Anyone can send these: audited in aggregate per source address (hub.web.flood)."""
    g.failure_audited = True
    flood.record_failure("logout", reason=reason, provider_id=provider_id, details={"via": via})


def _plain(status: int, body: dict[str, str]) -> Response:
    """Back-channel answers are for a server: JSON, never cached (Back-Channel Logout 2.8)."""
    response = jsonify(body)
    response.status_code = status
    g.no_store = True
    return response
