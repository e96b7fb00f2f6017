"""Retention: delete the oldest events through the triggers' gate, and seal what was deleted.

Database triggers (migration 0002) refuse UPDATE and DELETE on the events; only `prune` may
delete, and only the oldest ones. It seals the deletion with an event that lets `verify`
start from the new first event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from hub.core.audit.append import AuditLog, lock_head
from hub.core.audit.chain import SEAL_TYPE
from hub.core.audit.records import AuditRecord, RequestContext
from hub.core.db import Database, write_transaction
from hub.core.models import AuditEvent, AuditRetentionGate, utcnow


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
        lock_head(session)
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
