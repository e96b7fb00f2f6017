"""The audit log: append-only events chained by a keyed MAC, written in the caller's transaction.

A plain hash chain can be recomputed by anyone who can write the table, so each event's MAC
is keyed by the audit key, which lives outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hub.models import AuditEvent, utcnow

log = logging.getLogger(__name__)

GENESIS_MAC = "0" * 64


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


def canonical(event: AuditEvent) -> bytes:
    """The bytes the MAC covers: every field but the MAC itself, in a fixed JSON encoding."""
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


def chain_mac(key: bytes, previous_mac: str, event: AuditEvent) -> str:
    return hmac.new(key, previous_mac.encode() + b"\n" + canonical(event), hashlib.sha256).hexdigest()


class AuditLog:
    """Writes events; `notify` (the hook relay) is called for each after its commit."""

    def __init__(self, key: bytes, notify: Callable[[AuditRecord], None] | None = None) -> None:
        self._key = key
        self._notify = notify

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
        """Append an event inside the session's current transaction."""
        context = context or RequestContext()
        _lock_head(session)
        head = session.execute(
            select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        event = AuditEvent(
            seq=(head.seq + 1) if head else 1,
            occurred_at=utcnow(),
            type=type,
            outcome=outcome,
            actor_user_id=actor_user_id,
            subject_user_id=subject_user_id,
            provider_id=provider_id,
            ip=context.ip,
            user_agent=(context.user_agent or None) and context.user_agent[:512],
            request_id=context.request_id,
            details=dict(details or {}),
        )
        event.mac = chain_mac(self._key, head.mac if head else GENESIS_MAC, event)
        session.add(event)
        session.flush()
        session.info.setdefault("hub_audit_pending", []).append(_record_of(event))
        return event

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


def _lock_head(session: Session) -> None:
    """Serialise appenders so two events never take the same seq or fork the chain."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7201)"))


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
