"""Changes to a linked account: unlink it, or revoke its stored tokens.

Both first ask the provider to revoke the stored tokens (network, with no transaction open;
best effort, hub.upstream.revocation), then delete the hub's copy and end the sessions that
signed in through the account, in one transaction with the audit event. The person on their
account page and an administrator in the console run the same rules: never the user's last
account, only an account of that user.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.actions import deprovision
from hub.actions.audited import ActionRefused, Actor, record, refusals_audited
from hub.core import accounts, sessions
from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.errors import NotFound
from hub.core.models import LinkedAccount, TokenSet

RevokeUpstream = Callable[[int, str], str]
"""(linked account id, provider id) -> what the provider answered (never the tokens)."""


def account_of(session: Session, user_id: int, account_id: int) -> LinkedAccount:
    """The account, only if it belongs to this user (the request names both)."""
    account = session.get(LinkedAccount, account_id)
    if account is None or account.user_id != user_id:
        raise NotFound(f"User {user_id} has no linked account {account_id}.", hint="Reload the page.")
    return account


def unlink(
    db: Database, audit: AuditLog, revoke_upstream: RevokeUpstream, actor: Actor, user_id: int, account_id: int
) -> int:
    """Remove the account, its tokens, the sessions through it and the application refresh
    families it admitted (offline ones too); returns how many sessions ended.

    The last account is refused before the provider is asked anything, and counted again
    under the user's lock in the transaction that deletes (two unlinks at once)."""
    with refusals_audited(db, audit, "unlink", actor, subject_user_id=user_id, linked_account_id=account_id) as trace:
        with db.session() as session:
            account = account_of(session, user_id, account_id)
            trace.provider_id = account.provider_id
            accounts.check_unlinkable(session, account)
        revocation = revoke_upstream(account_id, trace.provider_id)
        with write_transaction(db) as session:
            account = account_of(session, user_id, account_id)
            accounts.check_unlinkable(session, account)
            revoked = deprovision.revoke_families_through(session, account, "unlink")
            ended = accounts.unlink(session, account)
            record(
                audit, session, "unlink", actor, subject_user_id=user_id, provider_id=trace.provider_id,
                linked_account_id=account_id, provider_revocation=revocation, sessions_ended=ended,
                application_grants_revoked=revoked,
            )
    return ended


def revoke_tokens(
    db: Database, audit: AuditLog, revoke_upstream: RevokeUpstream, actor: Actor, user_id: int, account_id: int
) -> int:
    """Delete the account's stored tokens and end the sessions through it (the person signs in
    again to store new ones); returns how many sessions ended."""
    event = "admin.revoke_tokens"
    with refusals_audited(db, audit, event, actor, subject_user_id=user_id, linked_account_id=account_id) as trace:
        with db.session() as session:
            trace.provider_id = account_of(session, user_id, account_id).provider_id
            if session.scalar(select(TokenSet.id).where(TokenSet.linked_account_id == account_id)) is None:
                raise ActionRefused("This linked account has no stored tokens to revoke.")
        revocation = revoke_upstream(account_id, trace.provider_id)
        with write_transaction(db) as session:
            account_of(session, user_id, account_id)
            token_set = session.scalar(select(TokenSet).where(TokenSet.linked_account_id == account_id))
            if token_set is not None:
                session.delete(token_set)
            ended = len(sessions.end_sessions(session, linked_account_id=account_id, reason="revoke_tokens"))
            record(
                audit, session, event, actor, subject_user_id=user_id, provider_id=trace.provider_id,
                linked_account_id=account_id, provider_revocation=revocation, sessions_ended=ended,
            )
    return ended
