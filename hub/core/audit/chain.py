"""The chain's form: the bytes each event's keyed MAC covers, and the MAC that links it to the last.

A plain hash chain can be recomputed by anyone who can write the table, so each event's MAC
is keyed by the audit key, which lives outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS_MAC = "0" * 64
"""The MAC before the first event: the chain's anchor."""
SEAL_TYPE = "audit_pruned"
"""Type of the event `prune` appends to seal the events it deleted; `verify` starts after it."""


PENDING_ALTERED_TYPE = "audit_pending_altered"
"""Type of the event the chainer links in place of a pending event whose own MAC failed."""


def canonical(event: Any) -> bytes:
    """The bytes the MAC covers: every field but the MAC itself, in a fixed JSON encoding.

    `event` is an AuditEvent or a row with the same attribute names (verify reads plain rows
    so that checking a large log does not fill the session's identity map).
    """
    return _encode({"seq": event.seq, **_fields(event)})


def _fields(event: Any) -> dict[str, Any]:
    return {
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


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_mac(key: bytes, previous_mac: str, event: Any) -> str:
    """The event's MAC: its canonical bytes after its predecessor's MAC, keyed by the audit key."""
    message = previous_mac.encode() + b"\n" + canonical(event)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pending_mac(key: bytes, event: Any) -> str:
    """An outbox row's own MAC: its fields (no seq yet), keyed by the audit key, domain-separated
    from chain MACs. The chainer checks it, so an edit made before chaining shows."""
    message = b"pending\n" + _encode(_fields(event))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def link(key: bytes, previous_mac: str, seq: int, event: Any) -> tuple[bool, str]:
    """The chainer's hot loop, one encoding per event: whether the pending row's own MAC holds,
    and its chain MAC as `seq` after `previous_mac` (equal to `chain_mac`, a test checks).

    canonical() is `_fields` plus "seq" in sorted-key JSON; "seq" sorts between "request_id"
    and "subject_user_id", and the top-level `,"subject_user_id":` is the last such bytes (only
    strings follow it, whose quotes JSON escapes), so seq is spliced in there.
    """
    body = _encode(_fields(event))
    own = hmac.new(key, b"pending\n" + body, hashlib.sha256).hexdigest()
    intact = hmac.compare_digest(own, event.mac)
    at = body.rfind(b',"subject_user_id":')
    chained = body[:at] + b',"seq":' + str(seq).encode() + body[at:]
    return intact, hmac.new(key, previous_mac.encode() + b"\n" + chained, hashlib.sha256).hexdigest()
