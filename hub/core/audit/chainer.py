"""The chainer: links the outbox's pending events into the keyed-MAC chain, many per transaction.

One chainer at a time across the cluster: a batch runs under the chain's lock (PostgreSQL's
transaction-scoped advisory lock `ADVISORY_LOCK_ID`, which only chainers, retention and an
inline log take; SQLite's write lock), so any node's thread, or `hub audit chain`, can take
over when another stops. A batch reads the head, reads up to `batch_size` pending rows in id
order, checks each row's own MAC, inserts them chained (seq head+1, head+2, ...) and deletes
exactly those rows, all in one transaction.

Chain order is the order of chaining: within a batch, insertion id order; across batches, the
batch order. An id that commits after a larger one was chained (a long transaction) is not
skipped or lost: its row is still pending and the next batch links it, with a larger seq than
the larger id's. So seq never waits on a settle time; occurred_at (the request's time) is
nearly but not strictly monotonic in seq (docs/architecture.md, "The audit outbox").
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, text

from hub.core.audit.append import ADVISORY_LOCK_ID, lock_connection
from hub.core.audit.chain import GENESIS_MAC, PENDING_ALTERED_TYPE, chain_mac, link
from hub.core.audit.outbox import FIELDS as _FIELDS
from hub.core.db import Database, write_transaction
from hub.core.models import AuditEvent, AuditPending, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
"""Pending events linked per transaction: large enough to amortise the commit, small enough
that the chain's lock is held for tens of milliseconds."""

_EVENTS = AuditEvent.__table__
_PENDING = AuditPending.__table__
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.mac).order_by(_EVENTS.c.seq.desc()).limit(1)
_INSERT = insert(_EVENTS)
_TRY_LOCK = text(f"SELECT pg_try_advisory_xact_lock({ADVISORY_LOCK_ID})")
_COLUMNS = ", ".join(_FIELDS)
_COPY = text(  # the column names are the model's, not input
    f"INSERT INTO audit_events (seq, mac, {_COLUMNS}) "  # noqa: S608
    f"SELECT linked.seq, linked.mac, {', '.join('p.' + name for name in _FIELDS)} "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:macs AS varchar[])) "
    "AS linked(id, seq, mac) JOIN audit_pending AS p ON p.id = linked.id"
)
_DELETE_ANY = text("DELETE FROM audit_pending WHERE id = ANY(CAST(:ids AS bigint[]))")
_BACKLOG = select(func.count(), func.min(_PENDING.c.occurred_at)).select_from(_PENDING)

Lock = Callable[[Connection], bool]


def wait_for_lock(connection: Connection) -> bool:
    """Take the chain's lock, waiting for another chainer's batch (the CLI's way)."""
    lock_connection(connection)
    return True


def try_lock(connection: Connection) -> bool:
    """Take the chain's lock if free (the thread's way: a busy lock means another node chains)."""
    if connection.dialect.name != "postgresql":
        return True  # SQLite: the transaction holds the database's write lock already
    return bool(connection.execute(_TRY_LOCK).scalar())


def chain_batch(db: Database, key: bytes, lock: Lock = wait_for_lock, batch_size: int = BATCH_SIZE) -> int | None:
    """Link up to `batch_size` pending events; how many, or None when another chainer holds the lock."""
    with write_transaction(db) as session:
        connection = session.connection()
        if not lock(connection):
            return None
        rows = connection.execute(select(_PENDING).order_by(_PENDING.c.id).limit(batch_size)).all()
        if not rows:
            return 0
        head = connection.execute(_HEAD).first()
        seq, previous = (head.seq, head.mac) if head else (0, GENESIS_MAC)
        linked: list[dict[str, Any]] = []  # every event, field by field (SQLite's insert)
        by_fields = connection.dialect.name != "postgresql"
        copied: list[tuple[int, int, str]] = []  # (pending id, seq, mac) of the intact rows
        rewritten: list[dict[str, Any]] = []  # an altered row's replacement event
        for row in rows:
            seq += 1
            intact, mac = link(key, previous, seq, row)
            if intact:
                copied.append((row.id, seq, mac))
                if by_fields:
                    linked.append({"seq": seq, "mac": mac, **{n: getattr(row, n) for n in _FIELDS}})
            else:
                event = SimpleNamespace(seq=seq, **_altered(row))
                event.mac = mac = chain_mac(key, previous, event)
                rewritten.append(vars(event))
                linked.append(vars(event))
            previous = mac
        _move(connection, linked, copied, rewritten, [row.id for row in rows])
    return len(rows)


def chain_all(db: Database, key: bytes, batch_size: int = BATCH_SIZE) -> int:
    """Link every event pending now (verify, checkpoint, export and `hub audit chain` call it)."""
    total = 0
    while True:
        done = chain_batch(db, key, wait_for_lock, batch_size) or 0
        total += done
        if done < batch_size:
            return total


def _move(
    connection: Connection,
    linked: list[dict[str, Any]],
    copied: list[tuple[int, int, str]],
    rewritten: list[dict[str, Any]],
    ids: list[int],
) -> None:
    """Insert the linked events and delete their pending rows. On PostgreSQL an intact row is
    copied by the server (one INSERT ... SELECT joined to arrays of ids, seqs and MACs) rather
    than sent back field by field: the batch costs three statements whatever its size."""
    if connection.dialect.name == "postgresql":
        if copied:
            ids_, seqs, macs = (list(column) for column in zip(*copied, strict=True))
            connection.execute(_COPY, {"ids": ids_, "seqs": seqs, "macs": macs})
        if rewritten:
            connection.execute(_INSERT, rewritten)
        connection.execute(_DELETE_ANY, {"ids": ids})
        return
    connection.execute(_INSERT, linked)
    connection.execute(delete(_PENDING).where(_PENDING.c.id.in_(ids)))


def _altered(row: Any) -> dict[str, Any]:
    """The event linked in place of a pending row whose own MAC failed (edited before chaining)."""
    log.error("audit: pending event %s was altered before it was chained", row.id)
    return {
        **{name: None for name in _FIELDS},
        "occurred_at": row.occurred_at,
        "type": PENDING_ALTERED_TYPE,
        "outcome": "failure",
        "details": {"pending_id": row.id},
    }


@dataclass(frozen=True)
class Backlog:
    """What waits in the outbox: how many events, and how long the oldest has waited."""

    pending: int
    lag_seconds: float


def backlog(db: Database) -> Backlog:
    """The outbox's size and the oldest pending event's age (the /metrics gauges)."""
    with db.session() as session:
        count, oldest = session.execute(_BACKLOG).one()
    return Backlog(count or 0, _age(oldest))


def _age(oldest: datetime | None) -> float:
    return max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


class Chainer:
    """One thread per serving process that chains the outbox every `interval` seconds.

    Started like the back-channel sender (hub.issuer.backchannel.Dispatcher): the app calls
    `ensure_running` before requests (so a forked worker starts its own), `Runtime.close` stops
    it. Every node runs one; the lock lets one chain at a time and the others try again.
    """

    def __init__(self, db: Database, key: bytes, interval: float, batch_size: int = BATCH_SIZE) -> None:
        self._db = db
        self._key = key
        self._interval = interval
        self._batch_size = batch_size
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._start_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Chainer(interval={self._interval})"

    def ensure_running(self) -> None:
        """Start this process's thread if it has none (after a fork, the parent's is gone)."""
        if self._running():
            return
        with self._start_lock:
            if self._running() or self._stopping.is_set():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="audit-chainer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=self._interval + 10)
        self._thread = None

    def _running(self) -> bool:
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                while not self._stopping.is_set():
                    done = chain_batch(self._db, self._key, try_lock, self._batch_size)
                    if done is None or done < self._batch_size:
                        break  # caught up, or another node is chaining
            except Exception:  # the database is away: try again next interval
                log.exception("audit chainer: a batch failed; retrying in %.1fs", self._interval)
            self._stopping.wait(self._interval)
