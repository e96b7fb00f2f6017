"""The one deprovisioning path: what ends when a person is disabled or an upstream account ends.

Whoever learnt it (an administrator in the console or at the shell, SCIM provisioning, the
hub's own re-check of an account at its provider) runs `cut_off`: the hub sessions end (and
with them, through the wired listener, a back-channel logout is queued to every application
signed in through them), the application refresh families are revoked (their access tokens
fail at userinfo and introspection, which check the family), the stored upstream tokens are
revoked at the provider where it can (best effort, before the transaction) and deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.actions.audited import Actor, record, refusals_audited
from hub.core import sessions
from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.errors import NotFound
from hub.core.models import LinkedAccount, TokenFamily, TokenSet
from hub.issuer import tokens as issuer_tokens

RevokeUpstream = Callable[[int, str], str]
"""(linked account id, provider id) -> what the provider answered (never the tokens)."""


@dataclass(frozen=True)
class CutOff:
    """What one deprovisioning ended: the counts its audit event reports."""

    sessions_ended: int
    application_grants_revoked: int
    upstream_token_sets_deleted: int


def revoke_upstream_tokens(
    db: Database, revoke_upstream: RevokeUpstream | None, account_ids: Sequence[int]
) -> dict[str, str]:
    """Ask each account's provider to revoke its stored tokens (network, no transaction open);
    linked account id -> the provider's answer. None: the caller has no provider at hand."""
    if revoke_upstream is None or not account_ids:
        return {}
    with db.session() as session:
        held = session.execute(
            select(TokenSet.linked_account_id, LinkedAccount.provider_id)
            .join(LinkedAccount, LinkedAccount.id == TokenSet.linked_account_id)
            .where(TokenSet.linked_account_id.in_(account_ids))
        ).all()
    return {str(account_id): revoke_upstream(account_id, provider_id) for account_id, provider_id in held}


def cut_off_user(session: Session, user_id: int, reason: str) -> CutOff:
    """Inside the caller's transaction: every session, family and stored upstream token of the user."""
    revoked = issuer_tokens.revoke_user(session, user_id, reason)  # before the sessions cascade theirs away
    ended = len(sessions.end_sessions(session, user_id=user_id, reason=reason))
    deleted = _delete_token_sets(
        session, select(LinkedAccount.id).where(LinkedAccount.user_id == user_id).scalar_subquery()
    )
    return CutOff(ended, revoked, deleted)


def revoke_families_through(session: Session, account: LinkedAccount, reason: str) -> int:
    """Revoke the application refresh families the account admitted (the user's families signed
    in through its provider, offline ones too). Call it before its sessions end: their
    session-bound families would cascade away uncounted."""
    return issuer_tokens.revoke_families(
        session,
        (TokenFamily.user_id == account.user_id) & (TokenFamily.provider_id == account.provider_id),
        reason,
    )


def cut_off_account(session: Session, account: LinkedAccount, reason: str) -> CutOff:
    """Inside the caller's transaction: what the account admitted. Its sessions; the families
    issued through it (the user's families signed in through its provider, offline ones too);
    its stored tokens. The account must sign in again (needs_reauth)."""
    revoked = revoke_families_through(session, account, reason)
    ended = len(sessions.end_sessions(session, linked_account_id=account.id, reason=reason))
    deleted = _delete_token_sets(session, [account.id])
    account.needs_reauth = True
    return CutOff(ended, revoked, deleted)


def end_account(
    db: Database,
    audit: AuditLog,
    revoke_upstream: RevokeUpstream | None,
    actor: Actor,
    account_id: int,
    *,
    provider_error: str | None = None,
) -> CutOff:
    """End what a linked account admitted because its provider refused it for good (disabled,
    deleted, consent revoked): `upstream.account_ended`, with the provider's error code."""
    event = "upstream.account_ended"
    with refusals_audited(db, audit, event, actor, linked_account_id=account_id) as trace:
        revocation = revoke_upstream_tokens(db, revoke_upstream, [account_id])
        with write_transaction(db) as session:
            account = session.get(LinkedAccount, account_id)
            if account is None:
                raise NotFound(f"There is no linked account {account_id}.")
            trace.provider_id = account.provider_id
            cut = end_account_in(session, audit, actor, account, provider_error, revocation.get(str(account_id)))
    return cut


def end_account_in(
    session: Session,
    audit: AuditLog,
    actor: Actor,
    account: LinkedAccount,
    provider_error: str | None,
    provider_revocation: str | None = None,
) -> CutOff:
    """end_account inside the caller's transaction: what the hub's re-check of an account runs
    when the provider refuses it (the refresh grant that found it answers invalid_grant in the
    same transaction). The provider is not asked to revoke: it refuses the tokens already."""
    cut = cut_off_account(session, account, "upstream_refused")
    record(
        audit, session, "upstream.account_ended", actor, subject_user_id=account.user_id,
        provider_id=account.provider_id, linked_account_id=account.id, provider_error=provider_error,
        provider_revocation=provider_revocation, **counts(cut),
    )
    return cut


def holds_upstream_tokens(session: Session, user_id: int) -> bool:
    """Whether any linked account of the user has stored tokens (one indexed read): only then has
    a disable a provider to ask before its transaction (`revoke_upstream_tokens`)."""
    return session.scalar(
        select(TokenSet.linked_account_id)
        .join(LinkedAccount, LinkedAccount.id == TokenSet.linked_account_id)
        .where(LinkedAccount.user_id == user_id)
        .limit(1)
    ) is not None


def account_ids_of(db: Database, user_id: int) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(LinkedAccount.id).where(LinkedAccount.user_id == user_id)))


def counts(cut: CutOff) -> Mapping[str, int]:
    return {
        "sessions_ended": cut.sessions_ended,
        "application_grants_revoked": cut.application_grants_revoked,
        "deleted_upstream_token_count": cut.upstream_token_sets_deleted,  # "..._deleted" reads as a secret to the scrubber
    }



def _delete_token_sets(session: Session, accounts: object) -> int:
    result = session.execute(
        delete(TokenSet).where(TokenSet.linked_account_id.in_(accounts)).execution_options(synchronize_session=False)  # type: ignore[arg-type]
    )
    return result.rowcount or 0
