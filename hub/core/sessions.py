"""Server-side sessions: create (always a new id), rotate, look up with idle and absolute limits, revoke.

The browser holds only an opaque random id; the row is stored under its hash, so the sessions
table cannot be replayed as cookies.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hub.core.digest import digest
from hub.core.models import LinkedAccount, SsoSession, User, WebSession, clip, utcnow

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hub.core.config import Settings
    from hub.core.db import Database

SessionsEnding = Callable[[Session, Select[Any], str], object]
"""A listener to sessions ending: (the transaction, a SELECT of the ending sessions' id hashes,
the reason). It runs inside end_sessions's transaction, before the rows are deleted."""

_LISTENERS = "hub.core.sessions.ending"
"""Key, in the info of a Database's session factory, of the listeners to sessions ending."""


class SessionEventsNotWired(RuntimeError):
    """Sessions were ended on a Database built without hub.runtime.open_database: what must
    follow a session's end (the applications' back-channel logouts) would silently not happen."""


def on_ending(db: Database, listener: SessionsEnding) -> None:
    """Have `listener` run in every end_sessions on `db`, in its transaction, before the DELETE.

    Why a listener and not an import: whatever follows a session's end belongs to a wing above
    the core (the issuer queues back-channel logouts, hub.issuer.backchannel.enqueue), and the
    runtime wires it (hub.runtime.open_database, where every Database the hub runs on is built).
    The listeners live in the session factory's info, so every session of `db` finds them."""
    info = dict(db.sessions.kw.get("info") or {})
    info[_LISTENERS] = (*info.get(_LISTENERS, ()), listener)
    db.sessions.configure(info=info)


def _ending(session: Session, selection: Select[Any], reason: str) -> None:
    listeners = session.info.get(_LISTENERS)
    if listeners is None:
        raise SessionEventsNotWired(
            "end_sessions ran on a database without its session listeners; build it with "
            "hub.runtime.open_database (or Runtime.load) so that back-channel logouts are queued"
        )
    for listener in listeners:
        listener(session, selection, reason)

TOUCH_INTERVAL = timedelta(minutes=1)
"""last_seen_at is written at most this often, so reading a page does not write every time."""


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def session_policy(settings: Settings) -> SessionPolicy:
    """The idle and absolute limits the settings ask for."""
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


class AccountCheckState(NamedTuple):
    """A linked account's upstream check columns (what hub.upstream.checks decides on), read
    with the session that signed in through it so a page view needs no second query."""

    id: int
    upstream_checked_at: Any
    upstream_confirmed_at: Any
    upstream_outcome: str | None
    last_sign_in_at: Any
    linked_at: Any


ACCOUNT_CHECK_COLUMNS = (
    LinkedAccount.id, LinkedAccount.upstream_checked_at, LinkedAccount.upstream_confirmed_at,
    LinkedAccount.upstream_outcome, LinkedAccount.last_sign_in_at, LinkedAccount.linked_at,
)
"""The columns of AccountCheckState, in its order (hub.upstream.checks reads the same)."""


@dataclass(frozen=True)
class CurrentSession:
    """The signed-in browser as views see it; `account` is the check state of the linked
    account it signed in through (None for a session without one)."""

    row: WebSession
    user: User
    account: AccountCheckState | None = None

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.row.roles)

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin or "admin" in self.roles


def create(
    session: Session,
    user_id: int,
    policy: SessionPolicy,
    *,
    provider_id: str | None,
    linked_account_id: int | None,
    roles: frozenset[str],
    provider_session_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    replaces: str | None = None,
    amr: tuple[str, ...] = (),
    acr: str | None = None,
) -> str:
    """Insert a session and return the cookie value. `replaces`, the browser's previous session
    cookie, is ended: every sign-in gets a new id (no fixation)."""
    if replaces:
        end_sessions(session, token=replaces, reason="replaced")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # A Core INSERT built once: the row is written once at sign-in, the ORM would only track it.
    session.connection().execute(
        _INSERT,
        {
            "id_hash": digest(token),
            "user_id": user_id,
            "provider_id": provider_id,
            "linked_account_id": linked_account_id,
            "provider_session_id": clip(WebSession.provider_session_id, provider_session_id),
            "roles": sorted(roles),
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + policy.absolute,
            "ip": clip(WebSession.ip, ip),
            "user_agent": clip(WebSession.user_agent, user_agent) or None,
            "amr": list(amr),
            "acr": clip(WebSession.acr, acr),
        },
    )
    return token


_INSERT = insert(WebSession.__table__)


def rotate(session: Session, token: str) -> str:
    """Give the session behind `token` a new id and return the new cookie value; the old one
    stops working. For every change of who a session vouches for that keeps the session
    (linking an account to the signed-in user): an id someone planted or saw before the change
    is worth nothing after it. The row keeps its roles, limits and issuer-side SSO session, so
    the applications signed in through it are not logged out (no end_sessions)."""
    old_hash = digest(token)
    row = session.get(WebSession, old_hash)
    if row is None:
        raise ValueError("rotate needs a live session")
    new_token = secrets.token_urlsafe(32)
    new_hash = digest(new_token)
    columns = {column.key: getattr(row, column.key) for column in WebSession.__table__.columns}
    session.connection().execute(_INSERT, {**columns, "id_hash": new_hash})
    # The SSO session moves to the new row before the old row goes (its foreign key cascades).
    session.execute(update(SsoSession).where(SsoSession.session_id_hash == old_hash).values(session_id_hash=new_hash))
    session.execute(delete(WebSession).where(WebSession.id_hash == old_hash), execution_options={"synchronize_session": False})
    session.expunge(row)
    return new_token


def lookup(session: Session, token: str | None, policy: SessionPolicy) -> CurrentSession | None:
    """The live session for a cookie value, or None when absent, expired, idle or disabled."""
    if not token or len(token) > 128:
        return None
    found = session.execute(_LOOKUP, {"id_hash": digest(token)}).first()
    if found is None:
        return None
    row, user, *state = found
    now = utcnow()
    if row.expires_at <= now or row.last_seen_at + policy.idle <= now or user.disabled_at:
        return None
    return CurrentSession(row=row, user=user, account=AccountCheckState(*state) if state[0] is not None else None)


_LOOKUP = (  # the session, its user and its account's check state: one query on every request
    select(WebSession, User, *ACCOUNT_CHECK_COLUMNS)
    .join(User, User.id == WebSession.user_id)
    .outerjoin(LinkedAccount, LinkedAccount.id == WebSession.linked_account_id)
    .where(WebSession.id_hash == bindparam("id_hash"))
)


def end_sessions_of_absent_providers(session: Session, running: set[str]) -> dict[str, int]:
    """End the sessions that signed in through a provider this process does not run (its
    plugin was uninstalled, or it was removed from the configuration): they carry roles
    that provider gave, and no refresh or provider sign-out can reach them any more.
    Returns provider id -> sessions ended."""
    absent = session.scalars(
        select(WebSession.provider_id).where(WebSession.provider_id.is_not(None)).distinct()
    ).all()
    ended = {
        provider_id: len(end_sessions(session, provider_id=provider_id, reason="provider_unavailable"))
        for provider_id in absent
        if provider_id not in running
    }
    return {provider_id: count for provider_id, count in ended.items() if count}


def needs_touch(current: CurrentSession) -> bool:
    return utcnow() - current.row.last_seen_at >= TOUCH_INTERVAL


def touch(session: Session, current: CurrentSession) -> None:
    """Record activity for the idle limit (callers do it at most once per TOUCH_INTERVAL)."""
    now = utcnow()
    session.execute(update(WebSession).where(WebSession.id_hash == current.row.id_hash).values(last_seen_at=now))
    current.row.last_seen_at = now


@dataclass(frozen=True)
class EndedSession:
    """A session end_sessions removed: who it was, and how it had signed in."""

    id_hash: str
    user_id: int
    provider_id: str | None
    linked_account_id: int | None
    provider_session_id: str | None


def end_sessions(
    session: Session,
    *,
    reason: str,
    token: str | None = None,
    user_id: int | None = None,
    linked_account_id: int | None = None,
    provider_id: str | None = None,
    provider_session_id: str | None = None,
    expired_under: SessionPolicy | None = None,
) -> list[EndedSession]:
    """End every session matching ALL the given selectors; the one place a session ends.

    Sign-out, sign-out everywhere, disabling a user, unlinking an account or revoking its
    tokens, a provider's logout, a provider that is no longer running, a replaced session
    at sign-in, and the purge of expired sessions all come here, inside the caller's
    transaction, so the ending commits (or rolls back) with the action that caused it.
    Whatever must follow a session's end (back-channel logout to applications signed in
    through it) is a listener registered with `on_ending`, run here before the rows go, keyed
    on the selection and `reason` (the cause, e.g. "logout", "unlink", "provider_unavailable",
    "expired").

    `token` is a cookie value; `expired_under` selects sessions past the policy's idle or
    absolute limit. At least one selector is required: no call ends every session by
    accident. Returns what ended (its length is the count audit events report).
    """
    conditions = []
    if token is not None:
        if not token or len(token) > 128:
            return []
        conditions.append(WebSession.id_hash == digest(token))
    if user_id is not None:
        conditions.append(WebSession.user_id == user_id)
    if linked_account_id is not None:
        conditions.append(WebSession.linked_account_id == linked_account_id)
    if provider_id is not None:
        conditions.append(WebSession.provider_id == provider_id)
    if provider_session_id is not None:
        conditions.append(WebSession.provider_session_id == clip(WebSession.provider_session_id, provider_session_id))
    if expired_under is not None:
        now = utcnow()
        conditions.append(
            (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - expired_under.idle)
        )
    if not conditions:
        raise ValueError("end_sessions needs at least one selector")
    # Before the DELETE: the applications signed in through these sessions cascade away with
    # them. The listeners (the issuer's back-channel logout) only queue, and send after the commit.
    _ending(session, select(WebSession.id_hash).where(*conditions), reason)
    rows = session.execute(
        delete(WebSession)
        .where(*conditions)
        .returning(
            WebSession.id_hash,
            WebSession.user_id,
            WebSession.provider_id,
            WebSession.linked_account_id,
            WebSession.provider_session_id,
        ),
        execution_options={"synchronize_session": False},
    ).all()
    ended = [EndedSession(*row) for row in rows]
    if ended:
        log.info("ended %d session(s): %s", len(ended), reason)
    return ended
