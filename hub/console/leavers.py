"""The console's recent leavers: people disabled (by an administrator, the CLI or provisioning) and
upstream accounts ended because their provider refused them, newest first, from the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.models import AuditEvent

LEAVER_EVENTS = ("admin.disable_user", "upstream.account_ended")
"""The deprovisioning path's success events (hub.actions.deprovision)."""

HOW = {
    "console": "disabled by an administrator",
    "cli": "disabled at the command line",
    "scim": "disabled by provisioning (SCIM)",
    "upstream_check": "refused by the provider at a re-check",
}


@dataclass(frozen=True)
class Leaver:
    """One deprovisioning: when, whom, how it was learnt, and what it ended."""

    occurred_at: datetime
    user_id: int | None
    actor_user_id: int | None
    provider_id: str | None
    via: str
    how: str
    provider_error: str | None
    sessions_ended: int
    application_grants_revoked: int


def recent_leavers(session: Session, limit: int = 100) -> list[Leaver]:
    """The newest `limit` deprovisionings (one indexed read of the audit log by event type)."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.type.in_(LEAVER_EVENTS), AuditEvent.outcome == "success")
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    return [_leaver(event) for event in events]


def _leaver(event: AuditEvent) -> Leaver:
    details: dict[str, Any] = event.details or {}
    via = str(details.get("via", ""))
    return Leaver(
        occurred_at=event.occurred_at,
        user_id=event.subject_user_id,
        actor_user_id=event.actor_user_id,
        provider_id=event.provider_id,
        via=via,
        how=HOW.get(via, via or "unknown"),
        provider_error=details.get("provider_error"),
        sessions_ended=int(details.get("sessions_ended") or 0),
        application_grants_revoked=int(details.get("application_grants_revoked") or 0),
    )
