"""Single sign-on bookkeeping: a hub session's public `sid` and the applications signed in with it.

The hub session (hub.sessions, table `sessions`) is the SSO session. The issuer side gives it a
random public id, `sid`, for ID tokens and back-channel logout tokens; it is neither the cookie
nor its hash. Each authorization records the application in the session, so that when the
session ends the applications that hold grants in it can be told (OIDC Back-Channel Logout).
Rows cascade away with the hub session: read `applications_in_session` *before* deleting it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.models import Application, SsoSession, SsoSessionApplication, utcnow


def _insert(session: Session, model: type):
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


def sid_for(session: Session, session_id_hash: str, user_id: int) -> str:
    """The public `sid` of a hub session, created on its first use by an application."""
    existing = session.scalar(select(SsoSession.sid).where(SsoSession.session_id_hash == session_id_hash))
    if existing is not None:
        return existing
    statement = _insert(session, SsoSession).values(
        sid=secrets.token_urlsafe(24), session_id_hash=session_id_hash, user_id=user_id, created_at=utcnow()
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["session_id_hash"]))
    sid = session.scalar(select(SsoSession.sid).where(SsoSession.session_id_hash == session_id_hash))
    assert sid is not None
    return sid


def sid_of(session: Session, session_id_hash: str) -> str | None:
    """The hub session's `sid` if an application has used it, without creating one."""
    return session.scalar(select(SsoSession.sid).where(SsoSession.session_id_hash == session_id_hash))


def record_application(session: Session, sid: str, application_id: int) -> None:
    """Note that `application_id` holds a grant in the session `sid`."""
    now = utcnow()
    statement = _insert(session, SsoSessionApplication).values(
        sid=sid, application_id=application_id, first_at=now, last_at=now
    )
    result = session.execute(statement.on_conflict_do_nothing(index_elements=["sid", "application_id"]))
    if not result.rowcount:
        session.execute(
            update(SsoSessionApplication)
            .where(SsoSessionApplication.sid == sid, SsoSessionApplication.application_id == application_id)
            .values(last_at=now)
        )


def session_alive(session: Session, sid: str) -> bool:
    return session.get(SsoSession, sid) is not None


def applications_in_session(session: Session, session_id_hash: str) -> tuple[str | None, list[Application]]:
    """The session's `sid` and the applications signed in through it (for back-channel logout).
    Call it before the hub session row is deleted: the rows cascade away with it."""
    sid = session.scalar(select(SsoSession.sid).where(SsoSession.session_id_hash == session_id_hash))
    if sid is None:
        return None, []
    applications = session.scalars(
        select(Application)
        .join(SsoSessionApplication, SsoSessionApplication.application_id == Application.id)
        .where(SsoSessionApplication.sid == sid)
        .order_by(Application.id)
    )
    return sid, list(applications)
