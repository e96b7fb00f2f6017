"""Exporting the log: matching events in seq order as JSON lines or spreadsheet-safe CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hub.core import csvsafe
from hub.core.audit.records import Progress
from hub.core.models import AuditEvent

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
