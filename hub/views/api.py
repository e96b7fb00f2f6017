"""The token API for back-end services: a valid access token for a linked account, on demand.

Authenticated by API keys (hub.apikeys), each use audited. Errors are JSON with stable codes
(hub.views.errors renders every /api/ error as JSON): `api_key_invalid` 401, `not_found` 404,
`ambiguous` 409, `reauth_required` 409, `user_disabled` 403, `provider_unavailable` 503.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from hub import apikeys
from hub.db import write_transaction
from hub.errors import HubError, NotFound
from hub.models import ApiKey, LinkedAccount, User, utcnow
from hub.web import audit_context, runtime

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class Ambiguous(HubError):
    code = "ambiguous"
    status = 409
    title = "More than one account matches"
    hint = "Name the provider (`provider_id`), or ask by linked account id."


def _authenticated_key() -> ApiKey:
    """The request's API key, or ApiKeyInvalid (audited either way)."""
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.lower().startswith("bearer ") else None
    rt = runtime()
    try:
        with write_transaction(rt.db) as session:
            key = apikeys.authenticate(session, presented)
            key.last_used_at = utcnow()
        return key
    except apikeys.ApiKeyInvalid as error:
        g.failure_audited = True
        rt.audit.record_failure(rt.db, "api_key.use", reason=error.code, context=audit_context(), details={"path": request.path})
        raise


def _access_token_response(key: ApiKey, account: LinkedAccount) -> Response:
    rt = runtime()
    context = audit_context()
    details = {"api_key_id": key.id, "api_key_name": key.name, "linked_account_id": account.id}
    try:
        token = rt.vault.access_token(rt.db, account.id, rt.providers, rt.audit, context)
    except HubError as error:
        g.failure_audited = True
        rt.audit.record_failure(
            rt.db, "api_key.use", reason=error.code, subject_user_id=account.user_id,
            provider_id=account.provider_id, context=context, details=details,
        )
        raise
    with write_transaction(rt.db) as session:
        rt.audit.record(
            session, "api_key.use", "success", subject_user_id=account.user_id,
            provider_id=account.provider_id, context=context, details=details,
        )
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
def access_token_by_id(account_id: int) -> Response:
    key = _authenticated_key()
    with runtime().db.session() as session:
        account = session.get(LinkedAccount, account_id)
    if account is None:
        raise NotFound(f"There is no linked account {account_id}.")
    return _access_token_response(key, account)


@bp.post("/access-token")
def access_token_by_lookup() -> Response:
    """Body: {"provider_id", "subject"} or {"email"[, "provider_id"]} (the user's email)."""
    key = _authenticated_key()
    body: dict[str, Any] = request.get_json(silent=True) or {}
    with runtime().db.session() as session:
        account = _lookup(session, body)
    return _access_token_response(key, account)


def _lookup(session: Any, body: dict[str, Any]) -> LinkedAccount:
    provider_id, subject, email = body.get("provider_id"), body.get("subject"), body.get("email")
    query = select(LinkedAccount)
    if isinstance(provider_id, str) and isinstance(subject, str):
        query = query.where(LinkedAccount.provider_id == provider_id, LinkedAccount.subject == subject)
    elif isinstance(email, str):
        query = query.join(User).where(User.email == email)
        if isinstance(provider_id, str):
            query = query.where(LinkedAccount.provider_id == provider_id)
    else:
        raise HubError(
            "Send JSON with provider_id and subject, or with email (and provider_id).",
            code="bad_request", status=400, hint="See the README's API section.",
        )
    accounts = session.scalars(query.limit(2)).all()
    if not accounts:
        raise NotFound("No linked account matches.")
    if len(accounts) > 1:
        raise Ambiguous("This user has accounts at more than one provider.")
    return accounts[0]
