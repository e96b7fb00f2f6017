"""Helpers of the hub.actions tests: people made straight in the database, and the audit events
an action left, to check the one event shape (actor, subject, `via`) from every front door."""

from __future__ import annotations

from sqlalchemy import select

from hub.core.db import write_transaction
from hub.core.models import AuditEvent, LinkedAccount, User


def make_user(rt, name: str, *, providers: tuple[str, ...] = ("fake",), is_admin: bool = False) -> tuple[int, list[int]]:
    """A user with one linked account per provider; returns (user id, account ids)."""
    with write_transaction(rt.db) as session:
        user = User(display_name=name, email=f"{name}@example.test", is_admin=is_admin)
        session.add(user)
        session.flush()
        linked = [
            LinkedAccount(user_id=user.id, provider_id=provider, subject=f"sub-{name}-{provider}", issuer="https://idp.test")
            for provider in providers
        ]
        session.add_all(linked)
        session.flush()
        return user.id, [account.id for account in linked]


def audit_events(rt, event_type: str) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == event_type).order_by(AuditEvent.seq)))


def last_event(rt, event_type: str) -> AuditEvent:
    found = audit_events(rt, event_type)
    assert found, f"no {event_type} event"
    return found[-1]


def shape(event: AuditEvent) -> tuple:
    """What every action's event says whatever the front door: outcome, who, to whom, and how."""
    return (event.outcome, event.actor_user_id, event.subject_user_id, event.details.get("via"))
