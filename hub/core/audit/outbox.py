"""The outbox: audited actions write their events unchained, with no lock, for the chainer to link.

The inline log (`append`) reads the chain head and inserts after it under one lock held to the
end of the caller's commit, so the whole cluster appends one event at a time (issue 21).
`OutboxAuditLog.record` instead inserts the event into `audit_pending` in the caller's
transaction: one INSERT, no head read, no lock, so no request waits for another's event. The
row carries its own keyed MAC (`chain.pending_mac`), so an edit made before it is chained is
detected. The chainer (`chainer`) links pending rows into the chain in batches.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert

from hub.core.audit.append import AuditLog
from hub.core.audit.chain import pending_mac
from hub.core.models import AuditEvent, AuditPending

_PENDING = AuditPending.__table__
_INSERT = insert(_PENDING)
FIELDS = tuple(column.key for column in _PENDING.columns if column.key not in ("id", "mac"))
"""What a pending event says (everything but its id and MAC): its MAC covers these, in this order."""


class OutboxAuditLog(AuditLog):
    """`AuditLog` writing to the outbox: `record` keeps its signature, its event has no seq yet."""

    def __repr__(self) -> str:
        return "OutboxAuditLog()"

    def _write(self, connection: Connection, event: AuditEvent) -> None:
        values = {column: getattr(event, column) for column in FIELDS}
        values["mac"] = pending_mac(self._key, event)
        connection.execute(_INSERT, values)
