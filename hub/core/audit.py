"""The audit log: append-only events chained by a keyed MAC; verify, checkpoint, prune, export.

A plain hash chain can be recomputed by anyone who can write the table, so each event's MAC
is keyed by the audit key, which lives outside the database. Deleting the newest events
leaves a valid shorter chain, so a signed checkpoint (seq and MAC of the head) is exported off
the database and `verify` compares against it. Database triggers (migration 0002) refuse
UPDATE and DELETE; only `prune`, the retention path, may delete the oldest events, and it
seals what it deleted with an event that lets `verify` start from the new first event.

Concurrency: `record` reads the chain head and appends after it, so appenders must be
serialised. On PostgreSQL `record` takes a transaction-scoped advisory lock; on SQLite the
caller's transaction must hold the write lock, that is begin with BEGIN IMMEDIATE
(hub.core.db.write_transaction). `record` on a session with no
transaction yet begins one that way itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hub.core import csvsafe
from hub.core.db import IMMEDIATE, Database, write_transaction
from hub.core.models import AuditEvent, AuditRetentionGate, utcnow

log = logging.getLogger(__name__)

GENESIS_MAC = "0" * 64
_COLUMNS = tuple(column.key for column in AuditEvent.__table__.columns)
_EVENTS = AuditEvent.__table__
_INSERT = insert(_EVENTS)
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.mac).order_by(_EVENTS.c.seq.desc()).limit(1)
SEAL_TYPE = "audit_pruned"
"""Type of the event `prune` appends to seal the events it deleted."""
CHECKPOINT_VERSION = "hub.core.audit.checkpoint.v1"
MASK = "[masked]"
ADVISORY_LOCK_ID = 7201
"""PostgreSQL advisory lock id that serialises audit appenders."""
_LOCK = text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")

Progress = Callable[[int, int], None]
"""Progress callback: (items done so far, items in total)."""


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from; views build it from the request."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """A committed audit event as plugins see it (the `hub_audit_event` hook)."""

    seq: int
    occurred_at: datetime
    type: str
    outcome: str
    actor_user_id: int | None
    subject_user_id: int | None
    provider_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


# --- the chain ---------------------------------------------------------------------------------


def canonical(event: Any) -> bytes:
    """The bytes the MAC covers: every field but the MAC itself, in a fixed JSON encoding.

    `event` is an AuditEvent or a row with the same attribute names (verify reads plain rows
    so that checking a large log does not fill the session's identity map).
    """
    body = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "type": event.type,
        "outcome": event.outcome,
        "actor_user_id": event.actor_user_id,
        "subject_user_id": event.subject_user_id,
        "provider_id": event.provider_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "details": event.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_mac(key: bytes, previous_mac: str, event: Any) -> str:
    message = previous_mac.encode() + b"\n" + canonical(event)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- scrubbing ---------------------------------------------------------------------------------

_SECRET_WORDS = frozenset(
    {
        "token", "tokens", "secret", "secrets", "password", "passwd", "passphrase", "verifier",
        "assertion", "cookie", "authorization", "credential", "credentials", "key", "keys",
        "apikey", "bearer", "otp", "pin",
    }
)
_CODE_PREFIXES = frozenset({"", "auth", "authorization", "device", "user", "recovery", "otp"})
_DESCRIPTIVE_LAST_WORDS = frozenset({"id", "ids", "count", "type", "kind", "name", "at", "expires"})
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LOOKS_SECRET = re.compile(r"(eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.)|(^\s*bearer\s+\S)", re.I)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
MAX_DETAIL_STRING = 2000
MAX_DETAIL_DEPTH = 6


def clean_text(value: str, limit: int | None = None) -> str:
    """A string safe to put in a log line: control, line-separator and bidi characters are
    written as visible \\uXXXX escapes (log injection, ANSI sequences), and long text is cut."""
    cleaned = _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", value)
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 1, 0)] + "…"
    return cleaned


def is_secret_key(name: str) -> bool:
    """Whether a details key names secret material (token, code, secret, verifier, ...).

    Keys that describe a secret rather than hold it (`key_id`, `token_type`, `reason_code`)
    are not secret.
    """
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words or words[-1] in _DESCRIPTIVE_LAST_WORDS:
        return False
    if words[-1] == "code":
        return "".join(words[:-1]) in _CODE_PREFIXES
    return any(word in _SECRET_WORDS for word in words)


def scrub_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Audit details made safe and canonical (defence in depth, A02).

    Values under secret-looking keys, and strings that look like a JWT or a bearer header,
    are replaced by "[masked]"; strings are cleaned with `clean_text`; anything that is not
    plain JSON (datetimes, sets, objects) becomes a string, so the MAC computed before the
    write equals the one recomputed from the stored JSON.
    """
    return _scrub_mapping(details or {}, 0)


def _scrub_mapping(mapping: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for raw_key, value in mapping.items():
        key = clean_text(str(raw_key), 128)
        if is_secret_key(key) and value not in (None, "", [], {}):
            log.warning("audit detail %r looked secret and was masked", key)
            scrubbed[key] = MASK
        else:
            scrubbed[key] = _scrub_value(value, depth + 1)
    return scrubbed


def _scrub_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth > MAX_DETAIL_DEPTH:
        return clean_text(str(value), MAX_DETAIL_STRING)
    if isinstance(value, Mapping):
        return _scrub_mapping(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_scrub_value(item, depth + 1) for item in items]
    text_value = str(value)
    if _LOOKS_SECRET.search(text_value):
        return MASK
    return clean_text(text_value, MAX_DETAIL_STRING)


def _short(value: str | None, limit: int) -> str | None:
    return None if value is None or value == "" else clean_text(value, limit)


# --- writing -----------------------------------------------------------------------------------


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
        docstring); call this last in a transaction, after any provider call, because it
        holds the audit head until the commit.
        """
        context = context or RequestContext()
        _begin_writer(session)
        # The statements below run on the connection (SQLAlchemy Core: no ORM execution layer,
        # statements built once), so the autoflush they skip is done here, before the lock:
        # the head stays locked only for the head read and the insert.
        session.flush()
        connection = session.connection()
        _lock_head(session)
        head = connection.execute(_HEAD).first()
        event = AuditEvent(
            seq=(head.seq + 1) if head else 1,
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
        event.mac = chain_mac(self._key, head.mac if head else GENESIS_MAC, event)
        # A plain INSERT, not the ORM's unit of work: the event is written once and never
        # changed, so tracking it in the session would only cost a flush.
        connection.execute(_INSERT, {column: getattr(event, column) for column in _COLUMNS})
        session.info.setdefault("hub_audit_pending", []).append(_record_of(event))
        return event

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


def _begin_writer(session: Session) -> None:
    """On SQLite, start the transaction as a writer if the caller has not started one."""
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options={IMMEDIATE: True})


def _lock_head(session: Session) -> None:
    """Serialise appenders so two events never take the same seq or fork the chain."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK)


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


# --- checkpoints -------------------------------------------------------------------------------


def make_checkpoint(session: Session, key: bytes) -> dict[str, Any]:
    """A signed statement of the chain's head, to keep off the database (A03).

    Deleting the newest events leaves a chain that verifies on its own; a checkpoint taken
    earlier says how far the chain reached, so `verify` can tell.
    """
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    checkpoint: dict[str, Any] = {
        "seq": head.seq if head else 0,
        "mac": head.mac if head else GENESIS_MAC,
        "at": utcnow().isoformat(timespec="seconds"),
    }
    checkpoint["signature"] = _checkpoint_signature(key, checkpoint)
    return checkpoint


def _checkpoint_signature(key: bytes, checkpoint: Mapping[str, Any]) -> str:
    body = {name: checkpoint[name] for name in ("seq", "mac", "at")}
    message = CHECKPOINT_VERSION.encode() + b"\n" + json.dumps(body, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_problem(checkpoint: Mapping[str, Any], key: bytes) -> str | None:
    """Why a checkpoint cannot be trusted, or None when its signature is good."""
    try:
        if not isinstance(checkpoint["seq"], int) or not isinstance(checkpoint["mac"], str):
            return "checkpoint: seq must be a number and mac a string"
        expected = _checkpoint_signature(key, checkpoint)
        given = checkpoint["signature"]
    except (KeyError, TypeError):
        return "checkpoint: expected a JSON object with seq, mac, at and signature"
    if not isinstance(given, str) or not hmac.compare_digest(expected, given):
        return "checkpoint: its signature does not match the audit key (altered, or another hub's)"
    return None


# --- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `verify`: ok, how many events were checked, and the first bad one."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    first_seq: int | None = None
    last_seq: int | None = None


def verify(
    session: Session,
    key: bytes,
    progress: Progress | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    *,
    batch_size: int = 1000,
) -> VerifyResult:
    """Check the whole chain in seq order, a batch at a time, and name the first bad event.

    Finds an altered event (its MAC does not match), a deleted one (a gap in seq), an inserted
    or reordered one (MAC mismatch), deleted oldest events without a retention seal, and, given
    a checkpoint, deleted newest events.
    """
    if checkpoint is not None:
        problem = checkpoint_problem(checkpoint, key)
        if problem:
            return VerifyResult(False, 0, None, problem)
    first, last, total = session.execute(
        select(func.min(AuditEvent.seq), func.max(AuditEvent.seq), func.count()).select_from(
            AuditEvent
        )
    ).one()
    if first is None:
        return _against_checkpoint(VerifyResult(True, 0), checkpoint, {})
    previous_mac = GENESIS_MAC if first == 1 else _sealed_predecessor(session, first - 1)
    if previous_mac is None:
        return VerifyResult(
            False, 0, first - 1,
            f"events up to seq {first - 1} are missing and no {SEAL_TYPE} event accounts for "
            "them (deleted outside retention)",
            first, last,
        )
    expected = first
    checked = 0
    macs_seen: dict[int, str] = {}
    watch = int(checkpoint["seq"]) if checkpoint is not None else None
    if progress:
        progress(0, total)
    while True:
        batch = session.execute(
            select(AuditEvent.__table__)
            .where(AuditEvent.seq >= expected)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for row in batch:
            if row.seq != expected:
                missing = f"{expected}" if row.seq == expected + 1 else f"{expected}..{row.seq - 1}"
                return VerifyResult(
                    False, checked, expected,
                    f"event {missing} is missing (deleted); the chain resumes at seq {row.seq}",
                    first, last,
                )
            if not hmac.compare_digest(chain_mac(key, previous_mac, row), row.mac):
                return VerifyResult(
                    False, checked, row.seq,
                    f"event {row.seq} was altered or inserted: its MAC does not match the chain",
                    first, last,
                )
            if row.seq == watch:
                macs_seen[row.seq] = row.mac
            previous_mac = row.mac
            expected += 1
            checked += 1
        if progress:
            progress(checked, total)
    result = VerifyResult(True, checked, None, None, first, last)
    return _against_checkpoint(result, checkpoint, macs_seen)


def _sealed_predecessor(session: Session, seq: int) -> str | None:
    """The MAC of pruned event `seq`, as recorded by the retention seal that removed it."""
    seals = session.scalars(
        select(AuditEvent.details)
        .where(AuditEvent.type == SEAL_TYPE)
        .order_by(AuditEvent.seq.desc())
    )
    for details in seals:
        mac = details.get("last_pruned_mac")
        if details.get("last_pruned_seq") == seq and isinstance(mac, str):
            return mac
    return None


def _against_checkpoint(
    result: VerifyResult, checkpoint: Mapping[str, Any] | None, macs_seen: Mapping[int, str]
) -> VerifyResult:
    if checkpoint is None or not result.ok:
        return result
    seq = int(checkpoint["seq"])
    last = result.last_seq or 0
    if seq > last:
        return VerifyResult(
            False, result.checked, last + 1,
            f"events {last + 1}..{seq} are missing: the checkpoint of {checkpoint.get('at')} "
            f"saw the chain reach seq {seq}, it now ends at {last} (truncated)",
            result.first_seq, result.last_seq,
        )
    if seq in macs_seen and not hmac.compare_digest(macs_seen[seq], str(checkpoint["mac"])):
        return VerifyResult(
            False, result.checked, seq,
            f"event {seq} differs from the checkpoint of {checkpoint.get('at')} (chain rewritten)",
            result.first_seq, result.last_seq,
        )
    # A checkpoint older than the retention window (seq pruned since) only bounds the length.
    return result


# --- retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    pruned: int
    first_pruned_seq: int | None = None
    last_pruned_seq: int | None = None
    seal_seq: int | None = None


def prune(
    db: Database,
    key: bytes,
    older_than: datetime,
    *,
    notify: Callable[[AuditRecord], None] | None = None,
    context: RequestContext | None = None,
) -> PruneResult:
    """Delete the events older than the cutoff and seal the deletion, in one transaction.

    Only a prefix of the chain is deleted (up to the first event at or after the cutoff), so
    what stays is contiguous. The seal event records the first and last pruned seq and the
    MAC of the last one: `verify` starts from that MAC instead of the genesis value. The
    deletion passes the append-only triggers through the retention gate (migration 0002),
    which is opened and closed inside this transaction only.
    """
    if older_than.tzinfo is None:
        raise ValueError("older_than must be timezone-aware (UTC)")
    if older_than > utcnow():
        raise ValueError("older_than is in the future; retention only deletes past events")
    audit = AuditLog(key, notify)
    with write_transaction(db) as session:
        _lock_head(session)
        first, head = session.execute(
            select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))
        ).one()
        if first is None:
            return PruneResult(0)
        first_kept = session.scalar(
            select(func.min(AuditEvent.seq)).where(AuditEvent.occurred_at >= older_than)
        )
        through = head if first_kept is None else first_kept - 1
        if through < first:
            return PruneResult(0)
        last_mac = session.scalar(select(AuditEvent.mac).where(AuditEvent.seq == through))
        count = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.seq <= through)
        ) or 0
        seal = audit.record(
            session,
            SEAL_TYPE,
            "success",
            context=context,
            details={
                "first_pruned_seq": first,
                "last_pruned_seq": through,
                "last_pruned_mac": last_mac,
                "pruned": count,
                "older_than": older_than.isoformat(),
            },
        )
        session.add(AuditRetentionGate(through_seq=through))
        session.flush()
        session.execute(
            delete(AuditEvent).where(AuditEvent.seq <= through),
            execution_options={"synchronize_session": False},
        )
        session.execute(delete(AuditRetentionGate))
        result = PruneResult(count, first, through, seal.seq)
    audit.committed(session)
    return result


# --- export ------------------------------------------------------------------------------------

EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_COLUMNS = (
    "seq", "occurred_at", "type", "outcome", "actor_user_id", "subject_user_id", "provider_id",
    "ip", "user_agent", "request_id", "details", "mac",
)


@dataclass(frozen=True)
class ExportFilters:
    """Which events to export. `user_id` matches the actor or the subject; `until` is exclusive."""

    types: Sequence[str] = ()
    outcome: str | None = None
    user_id: int | None = None
    provider_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.types:
            query = query.where(AuditEvent.type.in_(list(self.types)))
        if self.outcome:
            query = query.where(AuditEvent.outcome == self.outcome)
        if self.user_id is not None:
            query = query.where(
                (AuditEvent.actor_user_id == self.user_id)
                | (AuditEvent.subject_user_id == self.user_id)
            )
        if self.provider_id:
            query = query.where(AuditEvent.provider_id == self.provider_id)
        if self.since is not None:
            query = query.where(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.occurred_at < self.until)
        return query


def export(
    session: Session,
    filters: ExportFilters | None = None,
    format: str = "jsonl",
    progress: Progress | None = None,
    *,
    batch_size: int = 1000,
) -> Iterator[str]:
    """Matching events in seq order as text lines (each ending in a newline).

    jsonl: one JSON object per event, MAC included, so an external tool can re-check the
    chain. csv: a header, then one row per event with details as JSON; cells that a
    spreadsheet would run as a formula are prefixed with a quote.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    filters = filters or ExportFilters()
    total = session.scalar(filters.apply(select(func.count()).select_from(AuditEvent))) or 0
    if format == "csv":
        yield _csv_line(EXPORT_COLUMNS)
    done = 0
    after = 0
    if progress:
        progress(0, total)
    while True:
        batch = session.execute(
            filters.apply(select(AuditEvent.__table__))
            .where(AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        for row in batch:
            values = _export_values(row)
            if format == "jsonl":
                yield json.dumps(values, ensure_ascii=True, separators=(",", ":")) + "\n"
            else:
                yield _csv_line(_csv_cell(values[name]) for name in EXPORT_COLUMNS)
        after = batch[-1].seq
        done += len(batch)
        if progress:
            progress(done, total)


def _export_values(row: Any) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in EXPORT_COLUMNS}
    values["occurred_at"] = row.occurred_at.isoformat(timespec="microseconds")
    return values


def _csv_cell(value: Any) -> str:
    if isinstance(value, datetime):  # occurred_at is exported as ISO text already
        value = value.isoformat(timespec="microseconds")
    return csvsafe.cell(value)


def _csv_line(cells: Iterator[str] | Sequence[str]) -> str:
    return csvsafe.line(cells, "\n")
