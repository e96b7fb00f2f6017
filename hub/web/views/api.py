"""The token API for back-end services: a valid access token for a linked account, on demand.

Authenticated by API keys (hub.core.apikeys). Each grant is an audit event naming the key; each
refusal is audited in aggregate (hub.web.flood): a bad key per client address, a valid key's
failed request per key and reason, so every use of a key is attributable to it, and no flood
writes a row per request. Errors are JSON with stable codes
(hub.web.views.errors renders every /api/ error as JSON): `bad_request` 400, `api_key_invalid` 401,
`api_key_expired` 401, `api_key_scope` 403 (the key's scope leaves out the account's provider),
`not_found` 404, `ambiguous` 409, `reauth_required` 409, `user_disabled` 403,
`provider_unavailable` 503 (the provider is down, or its plugin is not installed).
A person is chosen by (provider id, subject), never by an email address alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from hub.actions import upstream_tokens
from hub.core import apikeys, metrics
from hub.core.db import write_transaction
from hub.core.errors import HubError, NotFound
from hub.core.models import ApiKey, LinkedAccount, utcnow
from hub.core.parsing import json_object
from hub.web import flood, ratelimit
from hub.web.request import audit_context, bearer_token, runtime

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ratelimit.limit("api")(bp)


class Ambiguous(HubError):
    code = "ambiguous"
    status = 409
    title = "More than one account matches"
    hint = "Ask by provider_id and subject, or by linked account id."


def _counted(view: Callable[..., Response]) -> Callable[..., Response]:
    """Count each call in hub_token_api_requests by its outcome (success or the error code),
    and audit a refusal the view did not audit, in aggregate per key (hub.web.flood)."""

    @wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Response:
        try:
            response = view(*args, **kwargs)
        except HubError as error:
            metrics.token_api_call(error.code)
            key = g.get("api_key")
            if key is not None and not g.get("failure_audited"):
                _audit_key_failure(key, error.code, details={"path": request.path[:200]})
            raise
        except Exception:
            metrics.token_api_call("internal_error")
            raise
        metrics.token_api_call("success")
        return response

    return counted


def _authenticated_key() -> ApiKey:
    """The request's API key, or ApiKeyInvalid (audited either way)."""
    presented = bearer_token()
    rt = runtime()
    try:
        with write_transaction(rt.db) as session:
            key = apikeys.authenticate(session, presented)
            key.last_used_at = utcnow()
    except apikeys.KeyNoLongerValid as error:
        g.failure_audited = True
        flood.record_failure(
            "api_key.use", reason=error.code, source=f"api_key:{error.key_id}",
            details={"path": request.path[:200], "api_key_id": error.key_id, "api_key_name": error.key_name},
        )
        raise
    except apikeys.ApiKeyInvalid as error:
        g.failure_audited = True
        flood.record_failure("api_key.use", reason=error.code, details={"path": request.path[:200]})
        raise
    g.api_key = key
    ratelimit.authenticated()
    return key


def _audit_key_failure(
    key: ApiKey,
    reason: str,
    *,
    provider_id: str | None = None,
    subject_user_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """A refused request of a valid key: counted per key and reason, the milestones audited
    with the key's id and name (anyone holding the key can send these as fast as they like)."""
    g.failure_audited = True
    flood.record_failure(
        "api_key.use", reason=reason, provider_id=provider_id, source=f"api_key:{key.id}",
        subject_user_id=subject_user_id, details={**(details or {}), "api_key_id": key.id, "api_key_name": key.name},
    )


def _access_token_response(key: ApiKey, account: LinkedAccount) -> Response:
    rt = runtime()
    context = audit_context()
    caller = upstream_tokens.Caller("api_key", {"api_key_id": key.id, "api_key_name": key.name})
    details = caller.details(account.id)
    try:
        apikeys.check_scope(key, account.provider_id)
        token = upstream_tokens.hand_out(rt.db, rt.audit, rt.vault, rt.providers, caller, account, context)
    except HubError as error:
        _audit_key_failure(
            key, error.code, provider_id=account.provider_id, subject_user_id=account.user_id, details=details,
        )
        raise
    g.no_store = True
    return jsonify(
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        access_token=token.value,
        expires_at=token.expires_at.isoformat() if token.expires_at else None,
        linked_account_id=account.id,
        provider_id=account.provider_id,
        subject=account.subject,
    )


@bp.post("/accounts/<int:account_id>/access-token")
@_counted
def access_token_by_id(account_id: int) -> Response:
    key = _authenticated_key()
    with runtime().db.session() as session:
        account = session.get(LinkedAccount, account_id)
    if account is None:
        raise NotFound(f"There is no linked account {account_id}.")
    return _access_token_response(key, account)


@bp.post("/access-token")
@_counted
def access_token_by_lookup() -> Response:
    """Body: {"provider_id", "subject"}, or {"provider_id", "email"} matching only an address
    that provider verified (see _lookup)."""
    key = _authenticated_key()
    body = json_object(request.get_json(silent=True))
    if isinstance(body.get("provider_id"), str):
        apikeys.check_scope(key, body["provider_id"])  # before the lookup: no probing outside the scope
    with runtime().db.session() as session:
        account = _lookup(session, body)
    return _access_token_response(key, account)


LOOKUP_FORMS = (
    'Send a JSON object with "provider_id" and "subject" (the account\'s immutable id at that '
    'provider), or with "provider_id" and "email" to match an address that provider verified.'
)


def _lookup(session: Any, body: dict[str, Any]) -> LinkedAccount:
    """The account named by (provider, subject), or by an address its provider verified.

    An email never selects a person on its own: profile addresses are mostly unverified (any
    Entra tenant can give anyone Alice's `mail`), so `{"email"}` alone once returned whoever
    signed in first with the address. With an email, `provider_id` is required and only the
    account's own address, verified by that provider, matches.
    """
    provider_id, subject, email = body.get("provider_id"), body.get("subject"), body.get("email")
    if not isinstance(provider_id, str) or not provider_id:
        raise HubError(
            f"provider_id is required. {LOOKUP_FORMS}",
            code="bad_request", status=400, hint="See the README's token API section.",
        )
    query = select(LinkedAccount).where(LinkedAccount.provider_id == provider_id)
    if isinstance(subject, str):
        query = query.where(LinkedAccount.subject == subject)
    elif isinstance(email, str):
        query = query.where(
            func.lower(LinkedAccount.email) == email.strip().lower(), LinkedAccount.email_verified.is_(True)
        )
    else:
        raise HubError(LOOKUP_FORMS, code="bad_request", status=400, hint="See the README's token API section.")
    accounts = session.scalars(query.order_by(LinkedAccount.id).limit(2)).all()
    if not accounts:
        unverified = (
            " An address counts only when the provider verified it; ask by subject instead."
            if isinstance(email, str) and not isinstance(subject, str) else ""
        )
        raise NotFound(f"No linked account matches.{unverified}")
    if len(accounts) > 1:
        raise Ambiguous("More than one account at this provider has this verified address; ask by subject.")
    return accounts[0]
