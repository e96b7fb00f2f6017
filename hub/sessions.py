"""Server-side sessions: create (always a new id), look up with idle and absolute limits, revoke.

The browser holds only an opaque random id; the row is stored under its hash, so the sessions
table cannot be replayed as cookies.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.models import User, WebSession, utcnow
from hub.signin import digest

TOUCH_INTERVAL = timedelta(minutes=1)
"""last_seen_at is written at most this often, so reading a page does not write every time."""


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class CurrentSession:
    """The signed-in browser as views see it."""

    row: WebSession
    user: User

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.row.roles.get("roles", []))

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin or "admin" in self.roles


def create(
    session: Session,
    user: User,
    policy: SessionPolicy,
    *,
    provider_id: str | None,
    linked_account_id: int | None,
    roles: frozenset[str],
    provider_session_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    replaces: str | None = None,
) -> str:
    """Insert a session and return the cookie value. `replaces`, the browser's previous session
    cookie, is deleted: every sign-in gets a new id (no fixation)."""
    if replaces:
        session.execute(delete(WebSession).where(WebSession.id_hash == digest(replaces)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            id_hash=digest(token),
            user_id=user.id,
            provider_id=provider_id,
            linked_account_id=linked_account_id,
            provider_session_id=provider_session_id,
            roles={"roles": sorted(roles)},
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute,
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
        )
    )
    return token


def lookup(session: Session, token: str | None, policy: SessionPolicy) -> CurrentSession | None:
    """The live session for a cookie value, or None when absent, expired, idle or disabled."""
    if not token or len(token) > 128:
        return None
    row = session.get(WebSession, digest(token))
    if row is None:
        return None
    now = utcnow()
    user = session.get(User, row.user_id)
    if row.expires_at <= now or row.last_seen_at + policy.idle <= now or user is None or user.disabled_at:
        return None
    return CurrentSession(row=row, user=user)


def needs_touch(current: CurrentSession) -> bool:
    return utcnow() - current.row.last_seen_at >= TOUCH_INTERVAL


def touch(session: Session, current: CurrentSession) -> None:
    """Record activity for the idle limit (callers do it at most once per TOUCH_INTERVAL)."""
    now = utcnow()
    session.execute(update(WebSession).where(WebSession.id_hash == current.row.id_hash).values(last_seen_at=now))
    current.row.last_seen_at = now


def revoke(session: Session, token: str) -> WebSession | None:
    """Delete the session for a cookie value; returns the deleted row, if any."""
    row = session.get(WebSession, digest(token))
    if row is not None:
        session.delete(row)
    return row


def revoke_user(session: Session, user_id: int) -> int:
    """Sign a user out everywhere; returns how many sessions ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return result.rowcount or 0


def revoke_provider_session(session: Session, provider_id: str, provider_session_id: str) -> list[int]:
    """End the sessions a provider-side sign-out names (by its `sid`); returns their user ids."""
    rows = session.scalars(
        select(WebSession).where(
            WebSession.provider_id == provider_id,
            WebSession.provider_session_id == provider_session_id,
        )
    ).all()
    for row in rows:
        session.delete(row)
    return [row.user_id for row in rows]


def purge_expired(session: Session, policy: SessionPolicy) -> int:
    now = utcnow()
    result = session.execute(
        delete(WebSession).where(
            (WebSession.expires_at <= now) | (WebSession.last_seen_at <= now - policy.idle)
        )
    )
    return result.rowcount or 0
