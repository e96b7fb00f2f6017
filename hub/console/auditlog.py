"""The console's audit page: filtered keyset pages of events, and the chain's verification state.

Verifying the chain reads every event (hub.core.audit.verify), which takes seconds at a few
hundred thousand events, so the page shows a cached result with the time it was checked.
A small log (under INLINE_LIMIT events) is verified on the request when the result is stale;
a large one is re-verified in a background thread while the page shows the previous result
and says a check is running. One check at a time per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.audit import ExportFilters, VerifyResult, verify
from hub.core.db import Database
from hub.core.models import AuditEvent, utcnow

log = logging.getLogger(__name__)

PAGE_SIZE = 50
FRESH_SECONDS = 300.0
INLINE_LIMIT = 20_000


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_before: int | None


def audit_page(session: Session, filters: ExportFilters, before: int | None, size: int = PAGE_SIZE) -> AuditPage:
    """Newest first, `size` events with seq below `before` (keyset on the primary key)."""
    query = filters.apply(select(AuditEvent))
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    events = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(size + 1)))
    more = len(events) > size
    events = events[:size]
    return AuditPage(events, events[-1].seq if more and events else None)


def event_types(session: Session) -> list[str]:
    """Types for the filter's list: distinct values read from the (type, ...) index."""
    return list(session.scalars(select(AuditEvent.type).distinct().order_by(AuditEvent.type)))


def recent_for_user(session: Session, user_id: int, limit: int = 20) -> list[AuditEvent]:
    """A user's newest events as subject or actor: two index lookups, merged."""
    as_subject = session.scalars(
        select(AuditEvent).where(AuditEvent.subject_user_id == user_id).order_by(AuditEvent.seq.desc()).limit(limit)
    ).all()
    as_actor = session.scalars(
        select(AuditEvent).where(AuditEvent.actor_user_id == user_id).order_by(AuditEvent.seq.desc()).limit(limit)
    ).all()
    merged = {event.seq: event for event in [*as_subject, *as_actor]}
    return [merged[seq] for seq in sorted(merged, reverse=True)[:limit]]


@dataclass(frozen=True)
class ChainState:
    """What the page says about the chain."""

    result: VerifyResult | None
    checked_at: datetime | None
    running: bool
    error: str | None = None


class ChainWatch:
    """The last verification result of this process, refreshed when older than FRESH_SECONDS."""

    def __init__(self, db: Database, key: bytes, fresh_seconds: float = FRESH_SECONDS) -> None:
        self._db = db
        self._key = key
        self._fresh = fresh_seconds
        self._lock = threading.Lock()
        self._result: VerifyResult | None = None
        self._checked_at: datetime | None = None
        self._at = 0.0
        self._running = False
        self._error: str | None = None

    def state(self, session: Session, spawn: Callable[[Callable[[], None]], Any] | None = None) -> ChainState:
        """The current state, starting a check first if the last one is stale."""
        if self._stale():
            if _event_count_estimate(session) <= INLINE_LIMIT:
                self._run()
            else:
                self._start_background(spawn or _daemon)
        with self._lock:
            return ChainState(self._result, self._checked_at, self._running, self._error)

    def _stale(self) -> bool:
        with self._lock:
            return not self._running and (self._checked_at is None or time.monotonic() - self._at > self._fresh)

    def _start_background(self, spawn: Callable[[Callable[[], None]], Any]) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
        spawn(self._run)

    def _run(self) -> None:
        started = utcnow()
        try:
            with self._db.session() as session:
                result = verify(session, self._key)
            error = None
        except Exception as exc:  # the page reports it; the hub keeps serving
            log.exception("audit chain verification failed to run")
            result, error = None, f"the check could not run ({type(exc).__name__}); see the server log"
        with self._lock:
            self._result = result if result is not None else self._result
            self._error = error
            self._checked_at = started
            self._at = time.monotonic()
            self._running = False


def _event_count_estimate(session: Session) -> int:
    """max(seq) - min(seq) + 1 from the primary key: the chain has no gaps when it is intact."""
    first, last = session.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))).one()
    return 0 if first is None else last - first + 1


def _daemon(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name="hub-audit-verify", daemon=True)
    thread.start()
    return thread
