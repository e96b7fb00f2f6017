"""A hub with the audit outbox (audit_chaining = "deferred"): sign-ins write pending events, the
chainer links them, /metrics shows the backlog (issue 21)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hub.core import metrics
from hub.core.audit import OutboxAuditLog, chain_all
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, AuditPending, utcnow
from tests.conftest import sign_in


@pytest.fixture
def hub_config(hub_config):
    return {**hub_config, "metrics_allow": ["127.0.0.1"], "audit_chaining": "deferred"}


def gauges(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    return metrics.parse(response.get_data(as_text=True))


def test_a_deferred_hub_writes_the_outbox_and_shows_its_backlog(client, idp):
    rt = client.application.extensions["hub"]
    assert isinstance(rt.audit, OutboxAuditLog)
    rt.chainer.stop()  # this test chains by hand, so what it reads stays still
    assert sign_in(client, idp, "alice").status_code == 302
    with rt.db.session() as session:
        pending = session.scalar(select(func.count()).select_from(AuditPending))
        types = session.scalars(select(AuditPending.type)).all()
    assert pending >= 1 and "signin" in types
    with write_transaction(rt.db) as session:  # the oldest event has waited half a minute
        oldest = session.scalar(select(func.min(AuditPending.id)))
        session.execute(update(AuditPending).where(AuditPending.id == oldest).values(occurred_at=utcnow() - timedelta(seconds=30)))
    before = gauges(client)
    assert before[("hub_audit_pending_events", ())] == pending
    assert 30 <= before[("hub_audit_chain_lag_seconds", ())] < 90
    assert chain_all(rt.db, rt.keys.audit_key) == pending
    after = gauges(client)
    assert after[("hub_audit_pending_events", ())] == 0 and after[("hub_audit_chain_lag_seconds", ())] == 0
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == pending
