"""Verifying the chain: every event in seq order against its MAC, the retention seal and a checkpoint."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.audit.chain import GENESIS_MAC, SEAL_TYPE, chain_mac
from hub.core.audit.checkpoints import checkpoint_problem
from hub.core.audit.records import Progress
from hub.core.models import AuditEvent


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
