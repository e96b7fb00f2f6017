"""The audit log: append-only events chained by a keyed MAC; verify, checkpoint, prune, export.

A plain hash chain can be recomputed by anyone who can write the table, so each event's MAC
is keyed by the audit key, which lives outside the database (`chain`). Deleting the newest
events leaves a valid shorter chain, so a signed checkpoint (seq and MAC of the head) is
exported off the database and `verify` compares against it (`checkpoints`, `verification`).
Database triggers (migration 0002) refuse UPDATE and DELETE; only `prune`, the retention path,
may delete the oldest events, and it seals what it deleted with an event that lets `verify`
start from the new first event (`retention`). Details never carry secrets (`scrub`).

Concurrency: `AuditLog.record` (`append`) reads the chain head and appends after it, so inline
appenders are serialised: see that module's docstring. `OutboxAuditLog` (`outbox`) writes the
event unchained with no lock; the chainer (`chainer`) links pending events in batches, one
chainer at a time (issue 21; docs/architecture.md, "The audit outbox").

Callers import the names below from `hub.core.audit`; the modules are this package's inside.
"""

from hub.core.audit.append import ADVISORY_LOCK_ID, AuditLog
from hub.core.audit.chain import (
    GENESIS_MAC,
    PENDING_ALTERED_TYPE,
    SEAL_TYPE,
    canonical,
    chain_mac,
    pending_mac,
)
from hub.core.audit.chainer import BATCH_SIZE, Backlog, Chainer, backlog, chain_all, chain_batch, try_lock
from hub.core.audit.checkpoints import CHECKPOINT_VERSION, checkpoint_problem, make_checkpoint
from hub.core.audit.exporting import EXPORT_COLUMNS, EXPORT_FORMATS, ExportFilters, export
from hub.core.audit.outbox import OutboxAuditLog
from hub.core.audit.records import AuditRecord, Progress, RequestContext
from hub.core.audit.retention import PruneResult, prune
from hub.core.audit.scrub import (
    MASK,
    MAX_DETAIL_DEPTH,
    MAX_DETAIL_STRING,
    clean_text,
    is_secret_key,
    scrub_details,
)
from hub.core.audit.verification import VerifyResult, verify

__all__ = [
    "ADVISORY_LOCK_ID",
    "BATCH_SIZE",
    "PENDING_ALTERED_TYPE",
    "Backlog",
    "Chainer",
    "OutboxAuditLog",
    "backlog",
    "chain_all",
    "chain_batch",
    "pending_mac",
    "try_lock",
    "CHECKPOINT_VERSION",
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "GENESIS_MAC",
    "MASK",
    "MAX_DETAIL_DEPTH",
    "MAX_DETAIL_STRING",
    "SEAL_TYPE",
    "AuditLog",
    "AuditRecord",
    "ExportFilters",
    "Progress",
    "PruneResult",
    "RequestContext",
    "VerifyResult",
    "canonical",
    "chain_mac",
    "checkpoint_problem",
    "clean_text",
    "export",
    "is_secret_key",
    "make_checkpoint",
    "prune",
    "scrub_details",
    "verify",
]
