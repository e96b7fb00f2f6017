"""The token vault: linked accounts' tokens encrypted at rest, bound to their row, refreshed on demand.

Tokens are sealed with AES-256-GCM under the newest key of the token key ring (hub.core.keyring:
HUB_TOKEN_KEYS, outside the database; rotating it is hub.actions.keyring). Each ciphertext is
bound to its row by associated data, so a ciphertext copied into another account's row does
not decrypt. Refreshes are single-flight
per account across threads and processes: the refresher holds the account's row lock (or, on
SQLite, the database write lock) while it calls the provider, and everyone who waited reads
the token it stored instead of spending the refresh token again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.core import metrics
from hub.core.audit import AuditLog, RequestContext
from hub.core.db import Database, write_transaction
from hub.core.errors import HubError, NotFound, ProviderUnavailable, RefreshRejected
from hub.core.identity import Identity, RefreshResult, Tokens
from hub.core.keyring import KeyRing, TokenUnreadable, token_set_binding
from hub.core.models import LinkedAccount, TokenSet, utcnow
from hub.upstream.provider import ProviderType

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
"""An access token expiring sooner than this is refreshed before it is handed out, so a
back-end job never starts a Graph call with a token that dies on the way."""

LOCK_TIMEOUT = "60s"
"""PostgreSQL: how long a caller waits for another process's refresh of the same account.
Longer than the provider's own HTTP timeouts, so it only fires when something is stuck."""


def provider_not_running(provider_id: str, linked_account_id: int) -> ProviderUnavailable:
    """The error for an account whose provider is not running (its plugin is uninstalled or its
    configuration removed): 503 `provider_unavailable`, as documented for the token API."""
    return ProviderUnavailable(
        f"The provider {provider_id!r} of linked account {linked_account_id} is not running on "
        "this hub (its plugin is not installed, or it is no longer configured).",
        hint="An administrator can check `hub providers`; the account works again once its provider does.",
    )


# --- the vault ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    """A usable access token; repr hides the value."""

    value: str = field(repr=False)
    expires_at: datetime | None


class TokenVault:
    """Encrypts, stores, reads and refreshes linked accounts' tokens."""

    def __init__(self, keyring: KeyRing, *, refresh_margin: timedelta = REFRESH_MARGIN) -> None:
        self.keyring = keyring
        self.refresh_margin = refresh_margin

    def __repr__(self) -> str:
        return f"TokenVault(keys={list(self.keyring.key_ids)})"

    # ---- storing and reading -----------------------------------------------------------------

    def store(
        self,
        session: Session,
        linked_account_id: int,
        tokens: Tokens,
        requested_scopes: Sequence[str],
    ) -> None:
        """Insert or replace the account's token set within the caller's transaction, and
        reset its refresh failures (fresh tokens from a sign-in; the account's `needs_reauth`
        is cleared by hub.core.accounts with the rest of the sign-in's refresh).

        One upsert on the unique linked_account_id, not a read and a write through the ORM.
        """
        key_id, ciphertext = self.keyring.encrypt(
            _sealed_payload(tokens), token_set_binding(linked_account_id)
        )
        now = utcnow()
        values = {
            "linked_account_id": linked_account_id,
            "key_id": key_id,
            "ciphertext": ciphertext,
            "access_expires_at": tokens.expires_at,
            "scopes_granted": " ".join(tokens.scopes),
            "scopes_requested": " ".join(requested_scopes),
            "refresh_failures": 0,
            "version": 1,
            "updated_at": now,
        }
        connection = session.connection()
        connection.execute(_UPSERTS[connection.dialect.name], values)

    def read(self, token_set: TokenSet) -> Tokens:
        """Decrypt a token set. Raises TokenUnreadable (tampered or swapped) or TokenKeyMissing."""
        plaintext = self.keyring.decrypt(
            token_set.key_id, token_set.ciphertext, token_set_binding(token_set.linked_account_id)
        )
        try:
            payload = json.loads(plaintext)
            access = payload["access_token"]
        except (ValueError, KeyError, TypeError):
            raise TokenUnreadable("the stored tokens are not in the vault's format") from None
        return Tokens(
            access_token=access,
            refresh_token=payload.get("refresh_token"),
            id_token=payload.get("id_token"),
            expires_at=token_set.access_expires_at,
            scopes=tuple(token_set.scopes_granted.split()),
        )

    # ---- on-demand refresh -------------------------------------------------------------------

    def access_token(
        self,
        db: Database,
        linked_account_id: int,
        providers: Mapping[str, ProviderType],
        audit: AuditLog,
        context: RequestContext | None = None,
    ) -> AccessToken:
        """A valid access token for the account, refreshed through its provider when needed.

        Raises RefreshRejected (the user must sign in again; TokenUnreadable is one),
        ProviderUnavailable / ProviderMisconfigured (try later), TokenKeyMissing (operator).
        Failures are audited and committed before the error reaches the caller.
        """
        with db.session() as session:
            account, token_set = _load(session, linked_account_id)
            _refuse_if_flagged(account, token_set)
            if self._fresh(token_set):
                try:
                    return _access_of(self.read(token_set))
                except TokenUnreadable:
                    pass  # recorded under the lock below
        return self._refresh_single_flight(db, linked_account_id, providers, audit, context)

    def _fresh(self, token_set: TokenSet) -> bool:
        # No expiry from the provider: nothing to go by, so the token is used until it fails.
        expires_at = token_set.access_expires_at
        return expires_at is None or expires_at > utcnow() + self.refresh_margin

    def _refresh_single_flight(
        self,
        db: Database,
        linked_account_id: int,
        providers: Mapping[str, ProviderType],
        audit: AuditLog,
        context: RequestContext | None,
    ) -> AccessToken:
        """Refresh under the account's lock; whoever waited re-reads and finds it done.

        The provider's network call happens while the lock is held. That is what makes the
        refresh single-flight (a rotating refresh token can only be spent once, R09), and it
        is cheap: the lock covers one account's rows only (PostgreSQL; SQLite is the
        single-process development database), and the call is bounded by hub.upstream.http's timeouts.
        The audit head lock is taken only after the call, so other audit writers never wait
        on a provider.
        """
        outcome: AccessToken | HubError
        with _refresh_transaction(db) as session:
            account, token_set = _load(session, linked_account_id, lock=True)
            provider_id = account.provider_id
            _refuse_if_flagged(account, token_set)
            if self._fresh(token_set):
                try:
                    fresh = _access_of(self.read(token_set))  # someone refreshed while we waited
                except TokenUnreadable:
                    pass
                else:
                    metrics.token_refresh_waited(provider_id)
                    return fresh
            outcome = self.refresh_locked(session, account, token_set, providers, audit, context)
        audit.committed(session)
        if isinstance(outcome, HubError):
            metrics.token_refresh_failed(provider_id, getattr(outcome, "reason", outcome.code))
            raise outcome
        metrics.token_refreshed(provider_id)
        return outcome

    def refresh_locked(
        self,
        session: Session,
        account: LinkedAccount,
        token_set: TokenSet,
        providers: Mapping[str, ProviderType],
        audit: AuditLog,
        context: RequestContext | None,
    ) -> AccessToken | HubError:
        """Do the refresh inside the locked transaction (here, and hub.upstream.checks); failures
        are returned to be raised after the commit, so that their bookkeeping and audit event persist."""
        provider = providers.get(account.provider_id)
        if provider is None:
            raise provider_not_running(account.provider_id, account.id)
        try:
            stored = self.read(token_set)
        except TokenUnreadable as error:
            return self._fail(session, account, token_set, audit, context, error, reauth=True)
        if not stored.refresh_token:
            error = RefreshRejected(
                f"linked account {account.id} has no refresh token; the user must sign in again"
            )
            return self._fail(session, account, token_set, audit, context, error, reauth=True)
        previous = Identity(subject=account.subject, issuer=account.issuer, tenant=account.tenant)
        try:
            result = provider.refresh(stored.refresh_token, previous)
        except RefreshRejected as error:  # invalid_grant: only this marks the account (R10)
            return self._fail(session, account, token_set, audit, context, error, reauth=True)
        except HubError as error:
            return self._fail(session, account, token_set, audit, context, error, reauth=False)
        except Exception as exc:  # a provider bug or an unwrapped network error
            log.warning(
                "provider %s raised %s while refreshing linked account %s",
                account.provider_id, type(exc).__name__, account.id,
            )
            error = ProviderUnavailable(
                f"provider {account.provider_id} failed to refresh tokens ({type(exc).__name__})"
            )
            error.__cause__ = exc
            return self._fail(session, account, token_set, audit, context, error, reauth=False)
        tokens = self._replace_after_refresh(token_set, stored, result)
        if result.identity is not None:
            # A refreshed ID token carries the roles as they are now (the provider has checked
            # it names the same person); sessions pick them up at the next sign-in.
            account.roles = sorted(result.identity.roles)
        audit.record(
            session,
            "token_refresh",
            "success",
            subject_user_id=account.user_id,
            provider_id=account.provider_id,
            context=context,
            details={"linked_account_id": account.id, "version": token_set.version},
        )
        return _access_of(tokens)

    def _replace_after_refresh(
        self, token_set: TokenSet, stored: Tokens, result: RefreshResult
    ) -> Tokens:
        # Providers that do not rotate the refresh token omit it: keep the one we have. One
        # that does rotate gets its new token stored in this same transaction (RFC 9700 4.14).
        fresh = result.tokens
        tokens = replace(
            fresh,
            refresh_token=fresh.refresh_token or stored.refresh_token,
            id_token=fresh.id_token or stored.id_token,
            scopes=fresh.scopes or stored.scopes,
        )
        token_set.key_id, token_set.ciphertext = self.keyring.encrypt(
            _sealed_payload(tokens), token_set_binding(token_set.linked_account_id)
        )
        now = utcnow()
        token_set.access_expires_at = tokens.expires_at
        token_set.scopes_granted = " ".join(tokens.scopes)
        token_set.last_refresh_at = now
        token_set.refresh_failures = 0
        token_set.version += 1
        token_set.updated_at = now
        return tokens

    def _fail(
        self,
        session: Session,
        account: LinkedAccount,
        token_set: TokenSet,
        audit: AuditLog,
        context: RequestContext | None,
        error: HubError,
        *,
        reauth: bool,
    ) -> HubError:
        token_set.refresh_failures += 1
        token_set.updated_at = utcnow()
        if reauth:
            account.needs_reauth = True
        details: dict[str, object] = {
            "linked_account_id": account.id,
            "reason": getattr(error, "reason", error.code),
            "needs_reauth": reauth,
            "failures": token_set.refresh_failures,
        }
        if error.provider_code:
            details["provider_code"] = error.provider_code
        audit.record(
            session,
            "token_refresh",
            "failure",
            subject_user_id=account.user_id,
            provider_id=account.provider_id,
            context=context,
            details=details,
        )
        return error

def _load(
    session: Session, linked_account_id: int, *, lock: bool = False
) -> tuple[LinkedAccount, TokenSet]:
    # Lock order everywhere: linked_accounts, then token_sets, then the audit head. NO KEY
    # UPDATE so that inserts referencing the account (FOR KEY SHARE) are not blocked.
    account_query = select(LinkedAccount).where(LinkedAccount.id == linked_account_id)
    token_query = select(TokenSet).where(TokenSet.linked_account_id == linked_account_id)
    if lock:
        account_query = account_query.with_for_update(key_share=True)
        token_query = token_query.with_for_update(key_share=True)
    options = {"populate_existing": True}
    account = session.scalars(account_query.execution_options(**options)).one_or_none()
    if account is None:
        raise NotFound(f"linked account {linked_account_id} does not exist")
    token_set = session.scalars(token_query.execution_options(**options)).one_or_none()
    if token_set is None:
        raise RefreshRejected(
            f"linked account {linked_account_id} has no stored tokens; the user must sign in "
            "again with this provider"
        )
    return account, token_set


class UserDisabled(HubError):
    code = "user_disabled"
    status = 403
    title = "This user is disabled"
    hint = "An administrator disabled the user; no tokens are handed out until they are enabled."


def _refuse_if_flagged(account: LinkedAccount, token_set: TokenSet) -> None:
    if account.user.disabled_at is not None:
        raise UserDisabled(f"the user of linked account {account.id} is disabled")
    if account.needs_reauth:
        raise RefreshRejected(
            f"linked account {account.id} needs its user to sign in again with provider "
            f"{account.provider_id} (its refresh token was refused or is unreadable)"
        )


def _access_of(tokens: Tokens) -> AccessToken:
    return AccessToken(tokens.access_token, tokens.expires_at)


@contextmanager
def _refresh_transaction(db: Database) -> Iterator[Session]:
    """A write transaction that waits a bounded time for another refresher's lock."""
    try:
        with write_transaction(db) as session:
            if not db.is_sqlite:
                session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            yield session
    except OperationalError as exc:
        if "lock" not in str(exc.orig).lower():
            raise
        raise ProviderUnavailable(
            "another refresh of this account is taking too long; try again in a minute"
        ) from exc


def _sealed_payload(tokens: Tokens) -> bytes:
    """The plaintext the vault encrypts: the provider's tokens, in the vault's format v1."""
    payload = {
        "v": 1,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "id_token": tokens.id_token,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _upsert(insert: Callable[[Any], Any]) -> Any:
    """INSERT ... ON CONFLICT (linked_account_id) DO UPDATE, in the dialect's own spelling."""
    statement = insert(TokenSet.__table__)
    replaced = {
        name: statement.excluded[name]
        for name in ("key_id", "ciphertext", "access_expires_at", "scopes_granted", "scopes_requested",
                     "refresh_failures", "updated_at")
    }
    return statement.on_conflict_do_update(
        index_elements=["linked_account_id"],
        set_={**replaced, "version": TokenSet.__table__.c.version + 1},
    )


_UPSERTS = {"sqlite": _upsert(sqlite_insert), "postgresql": _upsert(postgresql_insert)}
