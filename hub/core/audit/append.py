"""The inline append path: `AuditLog.record` reads the chain head, links the event and inserts it.

Database triggers (migration 0002) refuse UPDATE and DELETE on the events; this module only
ever inserts. `OutboxAuditLog` (`outbox`) is the same log writing to the outbox instead, with
no lock (issue 21); this one serves SQLite, whose write lock serialises every writer anyway.
Appenders here must be serialised, since each reads the head and writes after it:
on PostgreSQL `record` takes a transaction-scoped advisory lock; on SQLite the caller's
transaction must hold the write lock, that is begin with BEGIN IMMEDIATE
(hub.core.db.write_transaction). `record` on a session with no transaction yet begins one
that way itself. A hot path: its statements are SQLAlchemy Core, built once at import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.orm import Session

from hub.core.audit.chain import GENESIS_MAC, chain_mac
from hub.core.audit.records import AuditRecord, RequestContext
from hub.core.audit.scrub import clean_text, scrub_details
from hub.core.db import IMMEDIATE, Database, write_transaction
from hub.core.models import AuditEvent, utcnow

log = logging.getLogger(__name__)

ADVISORY_LOCK_ID = 7201
"""PostgreSQL advisory lock id that serialises audit appenders."""
_COLUMNS = tuple(column.key for column in AuditEvent.__table__.columns)
_EVENTS = AuditEvent.__table__
_INSERT = insert(_EVENTS)
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.mac).order_by(_EVENTS.c.seq.desc()).limit(1)
_LOCK = text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")


class AuditLog:
    """Writes events; `notify` (the hook relay) is called for each after its commit."""

    def __init__(self, key: bytes, notify: Callable[[AuditRecord], None] | None = None) -> None:
        self._key = key
        self._notify = notify

    def __repr__(self) -> str:
        return "AuditLog()"

    @property
    def notify(self) -> Callable[[AuditRecord], None] | None:
        """The observer relay, for functions that write events outside `record` (prune)."""
        return self._notify

    def record(
        self,
        session: Session,
        type: str,
        outcome: str,
        *,
        actor_user_id: int | None = None,
        subject_user_id: int | None = None,
        provider_id: str | None = None,
        context: RequestContext | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an event inside the session's current transaction.

        The event commits or rolls back with the change it describes. Details are scrubbed
        (`scrub_details`). On SQLite the transaction must hold the write lock (see the module
        docstring); call this last in a transaction, after any provider call, because the
        inline log holds the audit head until the commit (the outbox holds nothing).
        """
        event = _event(type, outcome, actor_user_id, subject_user_id, provider_id, context, details)
        _begin_writer(session)
        # The statements below run on the connection (SQLAlchemy Core: no ORM execution layer,
        # statements built once), so the autoflush they skip is done here, before the lock:
        # the head stays locked only for the head read and the insert.
        session.flush()
        self._write(session.connection(), event)
        session.info.setdefault("hub_audit_pending", []).append(_record_of(event))
        return event

    def _write(self, connection: Connection, event: AuditEvent) -> None:
        """Link the event to the head and insert it: the inline chain, under the head lock."""
        lock_connection(connection)
        head = connection.execute(_HEAD).first()
        event.seq = (head.seq + 1) if head else 1
        event.mac = chain_mac(self._key, head.mac if head else GENESIS_MAC, event)
        # A plain INSERT, not the ORM's unit of work: the event is written once and never
        # changed, so tracking it in the session would only cost a flush.
        connection.execute(_INSERT, {column: getattr(event, column) for column in _COLUMNS})

    def record_failure(
        self,
        db: Database,
        type: str,
        *,
        reason: str,
        actor_user_id: int | None = None,
        subject_user_id: int | None = None,
        provider_id: str | None = None,
        context: RequestContext | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord | None:
        """Write a failure event in its own transaction, for when the main change rolled back.

        Never raises: an audit write that fails (the database is down) is logged and None
        returned, so the original error is the one the caller reports.
        """
        try:
            with write_transaction(db) as session:
                event = self.record(
                    session,
                    type,
                    "failure",
                    actor_user_id=actor_user_id,
                    subject_user_id=subject_user_id,
                    provider_id=provider_id,
                    context=context,
                    details={**(details or {}), "reason": reason},
                )
                record = _record_of(event)
            self.committed(session)
            return record
        except Exception:  # never hide the original error behind an audit failure
            log.exception("could not audit a failed %s (reason %s)", type, clean_text(reason, 64))
            return None

    def committed(self, session: Session) -> None:
        """Relay the session's committed events to observers (called after commit)."""
        pending = session.info.pop("hub_audit_pending", [])
        if self._notify is None:
            return
        for record in pending:
            try:
                self._notify(record)
            except Exception:  # an observer must never break the action it observes
                log.exception("an hub_audit_event observer failed for event %s", record.seq)

    def rolled_back(self, session: Session) -> None:
        session.info.pop("hub_audit_pending", None)

    def count(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def lock_head(session: Session) -> None:
    """Serialise appenders so two events never take the same seq or fork the chain.

    Retention (`prune`) and the chainer take it too, so no event is appended while they link
    or seal; with the outbox (`hub.core.audit.outbox`) only they take it.
    """
    lock_connection(session.connection())


def lock_connection(connection: Connection) -> None:
    """`lock_head` on a connection (PostgreSQL's advisory lock; SQLite's write lock is held)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK)


def _event(
    type: str,
    outcome: str,
    actor_user_id: int | None,
    subject_user_id: int | None,
    provider_id: str | None,
    context: RequestContext | None,
    details: Mapping[str, Any] | None,
) -> AuditEvent:
    """The event as given, cleaned and scrubbed; seq and mac are set by whoever links it."""
    context = context or RequestContext()
    return AuditEvent(
        occurred_at=utcnow(),
        type=clean_text(type, 64),
        outcome=clean_text(outcome, 16),
        actor_user_id=actor_user_id,
        subject_user_id=subject_user_id,
        provider_id=_short(provider_id, 64),
        ip=_short(context.ip, 64),
        user_agent=_short(context.user_agent, 512),
        request_id=_short(context.request_id, 64),
        details=scrub_details(details),
    )


def _begin_writer(session: Session) -> None:
    """On SQLite, start the transaction as a writer if the caller has not started one."""
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options={IMMEDIATE: True})


def _short(value: str | None, limit: int) -> str | None:
    return None if value is None or value == "" else clean_text(value, limit)


def _record_of(event: AuditEvent) -> AuditRecord:
    return AuditRecord(
        seq=event.seq,
        occurred_at=event.occurred_at,
        type=event.type,
        outcome=event.outcome,
        actor_user_id=event.actor_user_id,
        subject_user_id=event.subject_user_id,
        provider_id=event.provider_id,
        ip=event.ip,
        user_agent=event.user_agent,
        request_id=event.request_id,
        details=dict(event.details),
    )
