"""Single sign-on bookkeeping: a hub session's `sid`, each application's own, who signed in.

The hub session (hub.core.sessions, table `sessions`) is the SSO session. The issuer side gives it a
random id, `sid`, the key of its rows here; it is neither the cookie nor its hash. No
application sees it: each sees its own `application_sid` of it (ID, access and back-channel
logout tokens), so two applications cannot join their sign-ins by the session (pairwise
applications, which get different `sub`s, above all). Each authorization records the
application in the session, so that when the session ends the applications that hold grants in
it can be told (OIDC Back-Channel Logout). Rows cascade away with the hub session: read
`applications_in_session` *before* deleting it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.core.db import upsert_insert
from hub.core.models import Application, SsoSession, SsoSessionApplication, utcnow

SID_PREFIX = "s."
"""Marks the sids made since per-application sids (token_urlsafe never makes a dot). A session
begun before has no prefix: its applications already saw its shared sid, so they keep seeing
it until it ends (at most session_absolute_hours later)."""


def new_sid() -> str:
    return SID_PREFIX + secrets.token_urlsafe(24)


def application_sid(secret_key: bytes, sid: str, client_id: str) -> str:
    """The `sid` the application `client_id` sees for the hub session `sid`, and the one place
    it is computed: an HMAC of both under the secret key, the same at every authorization,
    refresh and back-channel logout of the session (each token carries the value the
    application saw), and different for every application."""
    if not sid.startswith(SID_PREFIX):
        return sid  # a session from before per-application sids (see SID_PREFIX)
    mac = hmac.new(secret_key, f"application-sid\n{client_id}\n{sid}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode()


def sid_for(session: Session, session_id_hash: str, user_id: int) -> str:
    """The `sid` of a hub session (its key here, never shown to an application as it is: see
    `application_sid`), created on its first use by an application."""
    existing = session.scalar(select(SsoSession.sid).where(SsoSession.session_id_hash == session_id_hash))
    if existing is not None:
        return existing
    statement = upsert_insert(session, SsoSession).values(
        sid=new_sid(), session_id_hash=session_id_hash, user_id=user_id, created_at=utcnow()
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
    statement = upsert_insert(session, SsoSessionApplication).values(
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
