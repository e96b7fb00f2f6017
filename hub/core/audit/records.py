"""What an audit event is outside its table: the request it came from, the record observers get."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    """A committed audit event as plugins see it (the `hub_audit_event` hook).

    `seq` is None for an event written to the outbox (PostgreSQL's default, issue 21): the
    hook runs after the caller's commit, before the chainer gives the event its seq.
    """

    seq: int | None
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
