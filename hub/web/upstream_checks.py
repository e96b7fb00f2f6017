"""Where the web layer asks hub.upstream.checks: a hub session's page, and an application's
refresh grant before the grant's own transaction opens.

Asking before the protocol transaction matters: the check's result (a rotated upstream refresh
token, a cut-off with its back-channel logouts) commits on its own whatever the grant then
answers, and no protocol transaction holds its locks across the provider's round trip. The
grant asks again inside its transaction (IssuerConfig.account_check) and finds it done: one
indexed read.
"""

from __future__ import annotations

from flask import request
from sqlalchemy import bindparam, select

from hub.core.db import write_transaction
from hub.core.models import RefreshToken, TokenFamily
from hub.core.sessions import AccountCheckState
from hub.issuer.tokens import token_hash
from hub.runtime import Runtime
from hub.web.request import audit_context


def refused_session_account(rt: Runtime, account: AccountCheckState | None) -> bool:
    """A hub session used after its account's check interval asks the provider first. When
    nothing is due it decides on the check state the session's lookup read (no query), and the
    last check's outcome still counts (a provider failing past the grace period is refused on
    every use until it confirms the account). A refusal for good has ended the session."""
    if account is None:
        return False
    if not rt.checks.is_due(account):
        return rt.checks.stored_refusal(account) is not None
    with write_transaction(rt.db) as session:
        return rt.checks.refusal_for_account(session, account.id, audit_context()) is not None


def confirm_before_refresh(rt: Runtime) -> None:
    """For a refresh grant request: run the due check of the account behind the presented refresh
    token's family, in a transaction of its own. Anything unusable (no token, unknown, revoked,
    no provider, not due) is left to the grant to answer. The caller holds a live refresh token
    of that person, and a check runs at most once per interval, so this costs nobody else."""
    if request.form.get("grant_type") != "refresh_token":
        return
    token = request.form.get("refresh_token")
    if not token or len(token) > 256:
        return
    with rt.db.session() as session:
        owner = session.execute(_FAMILY_OWNER, {"token_hash": token_hash(token)}).first()
        if owner is None or owner.provider_id is None:
            return
        if not rt.checks.due_for_family(session, owner.user_id, owner.provider_id):
            return
    with write_transaction(rt.db) as session:
        rt.checks.refusal_for_family(session, owner.user_id, owner.provider_id, audit_context())


_FAMILY_OWNER = (  # built once: who a live refresh token's family belongs to, and through which provider
    select(TokenFamily.user_id, TokenFamily.provider_id)
    .join(RefreshToken, RefreshToken.family_id == TokenFamily.id)
    .where(RefreshToken.token_hash == bindparam("token_hash"), TokenFamily.revoked_at.is_(None))
)
