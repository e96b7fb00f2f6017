"""Signed checkpoints: the chain's head written down off the database, so truncation shows (A03).

Deleting the newest events leaves a valid shorter chain; a checkpoint taken earlier says how
far the chain reached, and `verify` compares against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.audit.chain import GENESIS_MAC
from hub.core.models import AuditEvent, utcnow

CHECKPOINT_VERSION = "hub.core.audit.checkpoint.v1"
"""Bound into every checkpoint's signature: changing it invalidates every checkpoint kept."""


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
