"""The audit outbox and its chainer (issue 21): no lock on the request path, tamper evidence kept."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text, update

from hub.cli.commands import audit_group
from hub.core.audit import (
    PENDING_ALTERED_TYPE,
    AuditRecord,
    Chainer,
    OutboxAuditLog,
    RequestContext,
    backlog,
    chain_all,
    chain_batch,
    try_lock,
    verify,
)
from hub.core.db import Database, write_transaction
from hub.core.models import AuditEvent, AuditPending, utcnow

KEY = b"k" * 48


def record(db: Database, log: OutboxAuditLog, number: int) -> None:
    with write_transaction(db) as session:
        log.record(
            session, "login", "success", actor_user_id=number, provider_id="contoso",
            context=RequestContext(ip="10.0.0.1", request_id=f"r{number}"), details={"n": number},
        )


def counts(db: Database) -> tuple[int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditPending)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def chained_numbers(db: Database) -> list[int]:
    with db.session() as session:
        return [details["n"] for details in session.scalars(select(AuditEvent.details).order_by(AuditEvent.seq))]


def test_record_writes_the_outbox_and_the_chainer_links_it_in_id_order(db: Database) -> None:
    log = OutboxAuditLog(KEY)
    for number in range(7):
        record(db, log, number)
    assert counts(db) == (7, 0)
    assert chain_batch(db, KEY, try_lock, batch_size=3) == 3
    assert chain_all(db, KEY, batch_size=3) == 4
    assert counts(db) == (0, 7)
    assert chained_numbers(db) == list(range(7))
    with db.session() as session:
        result = verify(session, KEY, batch_size=2)
    assert result.ok and result.checked == 7 and (result.first_seq, result.last_seq) == (1, 7)


def test_record_takes_no_lock_on_postgresql(db: Database) -> None:
    """A request's event never waits for the chain's lock: the chainer may hold it meanwhile."""
    if db.is_sqlite:
        pytest.skip("SQLite's write lock serialises every writer; nothing to show there")
    log = OutboxAuditLog(KEY)
    with db.engine.connect() as holder, holder.begin():
        holder.execute(text("SELECT pg_advisory_xact_lock(7201)"))  # a chainer mid-batch
        with write_transaction(db) as session:
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            log.record(session, "login", "success")
            held = session.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
            )
        assert held == 0
        assert chain_batch(db, KEY, try_lock) is None  # another chainer holds it: this one yields
    assert chain_batch(db, KEY, try_lock) == 1


def test_an_id_committed_after_a_larger_one_is_chained_in_the_next_batch(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    log = OutboxAuditLog(KEY)
    with write_transaction(db) as slow:
        log.record(slow, "login", "success", details={"n": 0})  # takes the smaller id, commits last
        record(db, log, 1)
        assert chain_all(db, KEY) == 1
    assert chain_all(db, KEY) == 1
    assert chained_numbers(db) == [1, 0]
    with db.session() as session:
        assert verify(session, KEY).ok


def test_a_pending_event_edited_before_chaining_is_chained_as_altered(db: Database) -> None:
    log = OutboxAuditLog(KEY)
    for number in range(3):
        record(db, log, number)
    with db.engine.begin() as connection:
        connection.execute(update(AuditPending).where(AuditPending.id == 2).values(outcome="failure"))
    chain_all(db, KEY)
    with db.session() as session:
        events = session.execute(select(AuditEvent.type, AuditEvent.details).order_by(AuditEvent.seq)).all()
        assert verify(session, KEY).ok
    assert [event.type for event in events] == ["login", PENDING_ALTERED_TYPE, "login"]
    assert events[1].details == {"pending_id": 2}


def test_the_hook_sees_each_event_after_the_callers_commit(db: Database) -> None:
    seen: list[AuditRecord] = []
    log = OutboxAuditLog(KEY, notify=seen.append)
    from sqlalchemy import event

    event.listen(db.sessions, "after_commit", log.committed)
    event.listen(db.sessions, "after_rollback", log.rolled_back)
    record(db, log, 1)
    with pytest.raises(RuntimeError), write_transaction(db) as session:
        log.record(session, "login", "success", details={"n": 2})
        raise RuntimeError("the action failed")
    assert [(r.seq, r.details) for r in seen] == [(None, {"n": 1})]
    assert counts(db) == (1, 0)


def test_chainers_on_many_threads_never_fork_the_chain(db: Database) -> None:
    log = OutboxAuditLog(KEY)
    for number in range(40):
        record(db, log, number)
    barrier = threading.Barrier(4)

    def chain() -> None:
        barrier.wait()
        chain_all(db, KEY, batch_size=7)

    threads = [threading.Thread(target=chain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts(db) == (0, 40)
    assert sorted(chained_numbers(db)) == list(range(40))
    with db.session() as session:
        assert verify(session, KEY).ok


def test_the_chainer_thread_links_the_outbox_and_stops(db: Database) -> None:
    log = OutboxAuditLog(KEY)
    record(db, log, 1)
    chainer = Chainer(db, KEY, interval=0.01)
    chainer.ensure_running()
    try:
        done = threading.Event()
        for _ in range(2000):
            if counts(db) == (0, 1):
                done.set()
                break
            threading.Event().wait(0.01)
        assert done.is_set()
    finally:
        chainer.stop()
    assert backlog(db).pending == 0 and backlog(db).lag_seconds == 0.0


def test_backlog_counts_the_outbox(db: Database) -> None:
    log = OutboxAuditLog(KEY)
    record(db, log, 1)
    record(db, log, 2)
    with write_transaction(db) as session:  # the oldest event has waited half a minute
        oldest = session.scalar(select(func.min(AuditPending.id)))
        session.execute(update(AuditPending).where(AuditPending.id == oldest).values(occurred_at=utcnow() - timedelta(seconds=30)))
    waiting = backlog(db)
    assert waiting.pending == 2 and 30.0 <= waiting.lag_seconds < 90.0


def _runtime(db: Database, tmp_path: Path) -> Any:
    return SimpleNamespace(
        db=db, keys=SimpleNamespace(audit_key=KEY),
        settings=SimpleNamespace(audit_retention_days=365, instance_path=tmp_path), audit=OutboxAuditLog(KEY),
    )


def test_verify_and_chain_commands_link_the_outbox_first(db: Database, tmp_path: Path) -> None:
    log = OutboxAuditLog(KEY)
    for number in range(3):
        record(db, log, number)
    runner = CliRunner()
    rt = _runtime(db, tmp_path)
    result = runner.invoke(audit_group, ["verify"], obj=rt)
    assert result.exit_code == 0, result.output
    assert "3 pending audit events chained first" in result.output
    assert "OK: 3 audit events verified" in result.output
    record(db, log, 3)
    result = runner.invoke(audit_group, ["chain"], obj=rt)
    assert result.exit_code == 0 and "1 pending audit events chained" in result.output
    assert counts(db) == (0, 4)


@pytest.mark.parametrize(
    "details",
    [{}, {"subject_user_id": 3, "z": {"subject_user_id": 4}}, {"note": ',"subject_user_id":5'}, {"seq": 9}],
)
def test_the_chainers_one_encoding_equals_the_canonical_form(details: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    from hub.core.audit import chain_mac, pending_mac
    from hub.core.audit.chain import link

    event = SimpleNamespace(
        occurred_at=datetime(2026, 12, 2, tzinfo=UTC), type='t","subject_user_id":1', outcome="success",
        actor_user_id=1, subject_user_id=2, provider_id=None, ip=None, user_agent=',"subject_user_id":', request_id="r",
        details=details,
    )
    event.mac = pending_mac(KEY, event)
    intact, mac = link(KEY, "0" * 64, 42, event)
    assert intact and mac == chain_mac(KEY, "0" * 64, SimpleNamespace(seq=42, **vars(event)))
    event.outcome = "failure"
    assert link(KEY, "0" * 64, 42, event)[0] is False
