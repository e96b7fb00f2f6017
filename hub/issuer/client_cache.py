"""The applications the protocol endpoints authenticate, cached per process and revalidated on
every request by one small statement.

Loading an application's whole row through the ORM was about a sixth of a refresh grant's CPU.
The cache keeps a copy of the row per client id; each lookup still reads the row's
`updated_at`, `disabled_at` and `secret_hash` (one indexed Core SELECT), so a disabled, enabled,
rotated or deleted application takes effect at the very next request, in every process, as
before. That holds because every change to an application goes through
hub.issuer.applications, which sets `updated_at` (and rotation changes `secret_hash`, compared
too). The copies are transient `Application` objects, never added to a session: nothing may
change them; the one write the token endpoint makes to an application, its last use, is a
Core UPDATE (`touch`).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from hub.core.models import Application, utcnow

LAST_USED_GRANULARITY = timedelta(minutes=1)
"""An application's last use is written at most once a minute per process, so busy applications
do not rewrite one hot row per token."""

_APPLICATIONS = Application.__table__
_CHECK = select(_APPLICATIONS.c.updated_at, _APPLICATIONS.c.disabled_at, _APPLICATIONS.c.secret_hash).where(
    _APPLICATIONS.c.client_id == bindparam("client_id")
)
_LOAD = select(_APPLICATIONS).where(_APPLICATIONS.c.client_id == bindparam("client_id"))
_TOUCH = (
    update(_APPLICATIONS)
    .where(
        _APPLICATIONS.c.id == bindparam("application_id"),
        or_(_APPLICATIONS.c.last_used_at.is_(None), _APPLICATIONS.c.last_used_at <= bindparam("stale_before")),
    )
    .values(last_used_at=bindparam("now"))
)


class ApplicationCache:
    """One process's copies of enabled applications, by client id (at most one per registered
    application: only ids that exist are kept)."""

    def __init__(self) -> None:
        self._applications: dict[str, Application] = {}
        self._touched: dict[int, datetime] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ApplicationCache({len(self._applications)} applications)"

    def find_enabled(self, session: Session, client_id: str | None) -> Application | None:
        """The enabled application for a client id presented in a protocol request, or None;
        as current as the database row (see the module docstring)."""
        if not client_id or len(client_id) > 64:
            return None
        connection = session.connection()
        current = connection.execute(_CHECK, {"client_id": client_id}).first()
        if current is None or current.disabled_at is not None:
            with self._lock:
                self._applications.pop(client_id, None)
            return None
        cached = self._applications.get(client_id)
        if cached is not None and cached.updated_at == current.updated_at and cached.secret_hash == current.secret_hash:
            return cached
        row = connection.execute(_LOAD, {"client_id": client_id}).first()
        if row is None or row.disabled_at is not None:  # changed between the two statements
            return None
        application = Application(**row._mapping)
        with self._lock:
            self._applications[client_id] = application
        return application

    def touch(self, session: Session, application: Application) -> None:
        """Record the application's use: at most once a minute per process, and never rewriting
        a last use under a minute old that another process wrote."""
        now = utcnow()
        touched = self._touched.get(application.id)
        if touched is not None and now - touched < LAST_USED_GRANULARITY:
            return
        session.connection().execute(
            _TOUCH, {"application_id": application.id, "stale_before": now - LAST_USED_GRANULARITY, "now": now}
        )
        self._touched[application.id] = now


__all__ = ["LAST_USED_GRANULARITY", "ApplicationCache"]
