"""Re-checking a linked account at its provider while it is in use (issue 19, pull).

An account is trusted for `upstream_check_seconds` after its provider last confirmed it (a
sign-in, a refresh, a check). Used after that (a hub session's page, an application's refresh
grant), the hub asks the provider first: it refreshes the stored upstream token through the
vault or, for a provider without refresh tokens, calls its optional `check_account`. The
check runs in the caller's write transaction under the account's row lock (on SQLite, the
database write lock), so across processes one caller asks and everyone who waited reads its
outcome: at most one upstream call per account per interval. The price: the provider's round
trip (bounded by the HTTP timeout and one retry) runs inside that transaction, so on SQLite
every writer waits for it, once per account per interval; the vault's own refresh
(TokenVault.refresh) has the same shape and shares the lock, which is what keeps the two from
spending one rotating upstream refresh token twice.

Outcomes: confirmed (roles updated), refused for good (the caller's `on_refused` cuts off what
the account admitted, hub.actions.deprovision), transient (timeout, 5xx: trusted for
`upstream_check_grace_seconds` after the last confirmation, then refused), unsupported (the
provider cannot check; the console shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hub.core import metrics
from hub.core.audit import AuditLog, RequestContext
from hub.core.errors import HubError, RefreshRejected
from hub.core.identity import Identity
from hub.core.keyring import TokenUnreadable
from hub.core.models import LinkedAccount, TokenSet, utcnow
from hub.core.sessions import ACCOUNT_CHECK_COLUMNS
from hub.upstream.provider import ProviderType
from hub.upstream.vault import TokenVault

OUTCOMES = ("confirmed", "refused", "transient", "unsupported")
"""The outcomes a check stores in linked_accounts.upstream_outcome and counts in /metrics."""

OnRefused = Callable[[Session, LinkedAccount, "str | None"], object]
"""(the transaction, the refused account, the provider's error code): cut off what it admitted."""

# Built once (hot: a refresh grant reads one on every use): the check state by account, and
# of the account that admitted a token family; the account locked for its check.
_BY_ACCOUNT = select(*ACCOUNT_CHECK_COLUMNS).where(LinkedAccount.id == bindparam("account_id"))
_BY_FAMILY = (
    select(*ACCOUNT_CHECK_COLUMNS)
    .where(LinkedAccount.user_id == bindparam("user_id"), LinkedAccount.provider_id == bindparam("provider_id"))
    .order_by(LinkedAccount.id).limit(1)
)
_LOCK_ACCOUNT = (
    select(LinkedAccount).where(LinkedAccount.id == bindparam("account_id"))
    .with_for_update(key_share=True).execution_options(populate_existing=True)
)


@dataclass(frozen=True)
class CheckPolicy:
    """How long an account is trusted without asking (`interval`), and how long past that a
    provider failing transiently is trusted all the same (`grace`)."""

    interval: timedelta
    grace: timedelta


class UpstreamChecks:
    """Decides, per use of an account, whether it may be used now, asking its provider when due."""

    def __init__(
        self,
        audit: AuditLog,
        vault: TokenVault,
        providers: Mapping[str, ProviderType],
        policy: CheckPolicy,
        on_refused: OnRefused,
    ) -> None:
        self.audit = audit
        self.vault = vault
        self.providers = providers
        self.policy = policy
        self.on_refused = on_refused

    def refusal_for_family(
        self, session: Session, user_id: int, provider_id: str | None, context: RequestContext | None = None
    ) -> str | None:
        """For a refresh grant (in its write transaction): None when the account that admitted
        the family may be used, else why not. One indexed read when no check is due."""
        if provider_id is None:
            return None
        row = session.execute(_BY_FAMILY, {"user_id": user_id, "provider_id": provider_id}).first()
        return None if row is None else self._decide(session, row, context)

    def refusal_for_account(
        self, session: Session, account_id: int, context: RequestContext | None = None
    ) -> str | None:
        """For a hub session's use (in a write transaction the caller opens when `due` says so)."""
        row = session.execute(_BY_ACCOUNT, {"account_id": account_id}).first()
        return None if row is None else self._decide(session, row, context)

    def due_for_family(self, session: Session, user_id: int, provider_id: str) -> bool:
        """Whether the account that admitted a family must ask its provider (a plain read, no lock)."""
        row = session.execute(_BY_FAMILY, {"user_id": user_id, "provider_id": provider_id}).first()
        return row is not None and self.is_due(row)

    def is_due(self, row: Any) -> bool:
        """Whether the account's next use must ask its provider (`row`: its check state)."""
        checked = _latest(row.upstream_checked_at, row.last_sign_in_at, row.linked_at)
        return checked + self.policy.interval <= utcnow()

    def stored_refusal(self, row: Any) -> str | None:
        """Why the account may not be used on its last check's outcome, without asking anyone.
        A use that is not due still needs it: a check that found the provider failing past the
        grace period refuses every use until a check confirms the account again, not only the
        use that ran it."""
        outcome, confirmed = _state(row)
        if outcome == "refused":
            return "the provider refused this account; the person must sign in again"
        if outcome == "transient" and confirmed + self.policy.interval + self.policy.grace <= utcnow():
            return "the provider could not confirm this account for longer than the grace period"
        return None

    # ---- the decision ------------------------------------------------------------------------

    def _decide(self, session: Session, row: Any, context: RequestContext | None) -> str | None:
        if self.is_due(row):
            row = self._check(session, row.id, context)
            if row is None:
                return "the linked account no longer exists"
        return self.stored_refusal(row)

    def _check(self, session: Session, account_id: int, context: RequestContext | None) -> Any:
        """Lock the account; if nobody checked it while we waited, ask the provider."""
        account = session.scalars(_LOCK_ACCOUNT, {"account_id": account_id}).one_or_none()
        if account is None:
            return None
        row = session.execute(_BY_ACCOUNT, {"account_id": account_id}).one()
        if not self.is_due(row):
            return row  # another caller checked it while we waited for the lock
        outcome, error = self._ask(session, account, context)
        now = utcnow()
        account.upstream_checked_at = now
        account.upstream_outcome = outcome
        account.upstream_error = (error or "")[:64] or None
        if outcome == "confirmed":
            account.upstream_confirmed_at = now
        metrics.upstream_check(account.provider_id, outcome)
        self.audit.record(
            session, "upstream.check", "failure" if outcome in {"refused", "transient"} else "success",
            subject_user_id=account.user_id, provider_id=account.provider_id, context=context,
            details={"linked_account_id": account.id, "outcome": outcome, "provider_error": error, "via": "upstream_check"},
        )
        if outcome == "refused":
            self.on_refused(session, account, error)
        session.flush()
        return session.execute(_BY_ACCOUNT, {"account_id": account_id}).one()

    def _ask(self, session: Session, account: LinkedAccount, context: RequestContext | None) -> tuple[str, str | None]:
        provider = self.providers.get(account.provider_id)
        if provider is None:
            return "transient", "provider_not_running"
        token_set = session.scalars(
            select(TokenSet).where(TokenSet.linked_account_id == account.id).with_for_update(key_share=True)
        ).one_or_none()
        if token_set is None:
            return "unsupported", "no_tokens_stored"
        try:
            stored = self.vault.read(token_set)
        except (TokenUnreadable, HubError) as error:
            return "unsupported", getattr(error, "code", "token_unreadable")
        if stored.refresh_token:
            refreshed = self.vault.refresh_locked(session, account, token_set, self.providers, self.audit, context)
            if isinstance(refreshed, RefreshRejected):
                return "refused", refreshed.provider_code or refreshed.code
            if isinstance(refreshed, HubError):
                return "transient", refreshed.provider_code or refreshed.code
            return "confirmed", None
        previous = Identity(subject=account.subject, issuer=account.issuer, tenant=account.tenant)
        try:
            identity = provider.check_account(stored, previous)
        except RefreshRejected as error:
            return "refused", error.provider_code or error.code
        except HubError as error:
            return "transient", error.provider_code or error.code
        except Exception as error:  # a provider bug or an unwrapped network error: not the person's fault
            return "transient", type(error).__name__
        if identity is None:
            return "unsupported", None
        account.roles = sorted(identity.roles)
        return "confirmed", None


def _latest(*moments: datetime | None) -> datetime:
    return max(moment for moment in moments if moment is not None)


def _state(row: Any) -> tuple[str, datetime]:
    """(outcome, last confirmed): a sign-in after the last check counts as a confirmation."""
    confirmed = _latest(row.upstream_confirmed_at, row.last_sign_in_at, row.linked_at)
    if row.upstream_checked_at is None or (row.last_sign_in_at and row.last_sign_in_at >= row.upstream_checked_at):
        return "confirmed", confirmed
    return row.upstream_outcome or "confirmed", confirmed
