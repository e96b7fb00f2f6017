"""The audit log: chain integrity under tampering and concurrency, triggers, retention, export."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from hub.cli.commands import audit_group
from hub.core import audit as audit_module
from hub.core.audit import (
    MASK,
    AuditLog,
    AuditRecord,
    ExportFilters,
    RequestContext,
    clean_text,
    export,
    is_secret_key,
    make_checkpoint,
    prune,
    verify,
)
from hub.core.audit import append as audit_append
from hub.core.db import Database, write_transaction
from hub.core.models import AuditEvent, AuditRetentionGate, utcnow

KEY = b"k" * 48


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def log() -> AuditLog:
    return AuditLog(KEY)


def append(db: Database, log: AuditLog, count: int, **fields: Any) -> None:
    for number in range(count):
        with write_transaction(db) as session:
            log.record(
                session,
                fields.get("type", "login"),
                fields.get("outcome", "success"),
                actor_user_id=fields.get("user", number),
                subject_user_id=fields.get("user", number),
                provider_id=fields.get("provider", "contoso"),
                context=RequestContext(ip="10.0.0.1", user_agent="pytest", request_id=f"r{number}"),
                details={"n": number},
            )


def tamper(db: Database, statement: Any) -> None:
    """Change the table behind the hub's back, as someone with raw database access would."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.execute(text("DROP TRIGGER IF EXISTS audit_events_refuse_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS audit_events_refuse_delete"))
        else:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(statement)


def check(db: Database, checkpoint: dict[str, Any] | None = None) -> audit_module.VerifyResult:
    with db.session() as session:
        return verify(session, KEY, checkpoint=checkpoint, batch_size=3)


# --- the chain -------------------------------------------------------------------------------


def test_appended_events_verify_in_small_batches(db: Database, log: AuditLog) -> None:
    append(db, log, 10)
    seen: list[tuple[int, int]] = []
    with db.session() as session:
        result = verify(session, KEY, lambda done, total: seen.append((done, total)), batch_size=4)
    assert result.ok and result.checked == 10 and (result.first_seq, result.last_seq) == (1, 10)
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)


def test_empty_log_verifies(db: Database) -> None:
    assert check(db).ok


def test_another_key_fails_at_the_first_event(db: Database, log: AuditLog) -> None:
    append(db, log, 3)
    with db.session() as session:
        result = verify(session, b"x" * 48)
    assert not result.ok and result.first_bad_seq == 1


TAMPERED_VALUES: dict[str, Any] = {
    "occurred_at": utcnow() - timedelta(days=3),
    "type": "logout",
    "outcome": "failure",
    "actor_user_id": 999,
    "subject_user_id": 999,
    "provider_id": "fabrikam",
    "ip": "192.0.2.66",
    "user_agent": "curl",
    "request_id": "forged",
    "details": {"n": 42},
    "mac": "f" * 64,
}


@pytest.mark.parametrize("column", sorted(TAMPERED_VALUES))
def test_altering_any_field_of_one_event_is_caught_at_its_seq(
    db: Database, log: AuditLog, column: str
) -> None:
    append(db, log, 7)
    tamper(db, update(AuditEvent).where(AuditEvent.seq == 4).values({column: TAMPERED_VALUES[column]}))
    result = check(db)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert result.checked == 3
    assert "altered" in (result.problem or "")


def test_changing_an_events_seq_is_caught(db: Database, log: AuditLog) -> None:
    append(db, log, 5)
    tamper(db, update(AuditEvent).where(AuditEvent.seq == 3).values(seq=30))
    result = check(db)
    assert not result.ok and result.first_bad_seq == 3


def test_swapping_two_events_is_caught(db: Database, log: AuditLog) -> None:
    append(db, log, 5)
    with db.session() as session:
        second, third = (session.get(AuditEvent, seq) for seq in (2, 3))
        assert second and third
        swapped = [(2, third), (3, second)]
        values = [
            {c: getattr(event, c) for c in ("occurred_at", "actor_user_id", "details", "mac")}
            for _, event in swapped
        ]
    for (seq, _), new_values in zip(swapped, values, strict=True):
        tamper(db, update(AuditEvent).where(AuditEvent.seq == seq).values(new_values))
    result = check(db)
    assert not result.ok and result.first_bad_seq == 2


def test_deleting_a_middle_event_is_caught(db: Database, log: AuditLog) -> None:
    append(db, log, 6)
    tamper(db, delete(AuditEvent).where(AuditEvent.seq == 4))
    result = check(db)
    assert not result.ok and result.first_bad_seq == 4
    assert "missing" in (result.problem or "")


def test_inserting_a_forged_event_is_caught(db: Database, log: AuditLog) -> None:
    append(db, log, 3)
    with db.session() as session:
        head = session.get(AuditEvent, 3)
        assert head is not None
        forged = {c.name: getattr(head, c.name) for c in AuditEvent.__table__.columns}
    forged.update(seq=4, type="admin_grant", mac="0" * 64)
    tamper(db, AuditEvent.__table__.insert().values(forged))
    result = check(db)
    assert not result.ok and result.first_bad_seq == 4


def test_deleting_the_oldest_events_without_a_seal_is_caught(db: Database, log: AuditLog) -> None:
    append(db, log, 4)
    tamper(db, delete(AuditEvent).where(AuditEvent.seq <= 2))
    result = check(db)
    assert not result.ok and result.first_bad_seq == 2


def test_deleting_the_newest_events_is_caught_with_a_checkpoint(db: Database, log: AuditLog) -> None:
    append(db, log, 6)
    with db.session() as session:
        checkpoint = make_checkpoint(session, KEY)
    assert checkpoint["seq"] == 6
    tamper(db, delete(AuditEvent).where(AuditEvent.seq >= 5))
    assert check(db).ok  # the shorter chain is consistent on its own ...
    result = check(db, checkpoint)  # ... which is why checkpoints exist
    assert not result.ok and result.first_bad_seq == 5
    assert "truncated" in (result.problem or "")


def test_a_checkpoint_survives_later_appends_and_rejects_forgery(db: Database, log: AuditLog) -> None:
    append(db, log, 3)
    with db.session() as session:
        checkpoint = make_checkpoint(session, KEY)
    append(db, log, 2)
    assert check(db, checkpoint).ok
    forged = {**checkpoint, "seq": 2}
    result = check(db, forged)
    assert not result.ok and "signature" in (result.problem or "")
    assert not check(db, {"seq": 1}).ok


def test_a_rewritten_chain_differs_from_the_checkpoint(db: Database, log: AuditLog) -> None:
    append(db, log, 3)
    with db.session() as session:
        checkpoint = make_checkpoint(session, KEY)
    # Someone holding the key rebuilt the chain; the off-database checkpoint still disagrees.
    tamper(db, delete(AuditEvent))
    append(db, log, 4)
    result = check(db, checkpoint)
    assert not result.ok and result.first_bad_seq == 3


def test_empty_log_checkpoint(db: Database, log: AuditLog) -> None:
    with db.session() as session:
        checkpoint = make_checkpoint(session, KEY)
    assert checkpoint["seq"] == 0
    append(db, log, 1)
    assert check(db, checkpoint).ok


# --- concurrency -----------------------------------------------------------------------------


def test_twenty_threads_appending_concurrently_never_fork_the_chain(
    db: Database, log: AuditLog
) -> None:
    threads_count, per_thread = 20, 5
    start = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            start.wait()
            for item in range(per_thread):
                with write_transaction(db) as session:
                    log.record(session, "login", "success", details={"t": number, "i": item})
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with db.session() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        macs = set(session.scalars(select(AuditEvent.mac)))
    assert seqs == list(range(1, threads_count * per_thread + 1))
    assert len(macs) == len(seqs)
    result = check(db)
    assert result.ok and result.checked == threads_count * per_thread


def test_record_without_an_open_transaction_takes_the_write_lock_itself(
    db: Database, log: AuditLog
) -> None:
    with db.session() as session:
        log.record(session, "login", "success")
        session.commit()
    assert check(db).ok


# --- triggers (A05) --------------------------------------------------------------------------


def test_triggers_refuse_update_and_delete(db: Database, log: AuditLog) -> None:
    append(db, log, 3)
    for statement in (
        update(AuditEvent).where(AuditEvent.seq == 2).values(type="forged"),
        delete(AuditEvent).where(AuditEvent.seq == 2),
        delete(AuditEvent),
        text("UPDATE audit_events SET mac = 'x'"),
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
            connection.execute(statement)
    assert check(db).ok and check(db).checked == 3


def test_the_retention_gate_only_opens_the_events_it_names(db: Database, log: AuditLog) -> None:
    append(db, log, 4)
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(AuditRetentionGate.__table__.insert().values(through_seq=2, opened_at=utcnow()))
        connection.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
        connection.execute(AuditRetentionGate.__table__.insert().values(through_seq=4, opened_at=utcnow()))
        connection.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(type="forged"))
    with db.session() as session:
        assert session.scalar(select(AuditRetentionGate.id)) is None  # rolled back with them
    assert check(db).ok


# --- retention -------------------------------------------------------------------------------


def _append_at(db: Database, log: AuditLog, when: Any, count: int, monkeypatch: Any) -> None:
    monkeypatch.setattr(audit_append, "utcnow", lambda: when)  # the clock events are stamped with
    append(db, log, count)
    monkeypatch.undo()


def test_prune_deletes_old_events_and_verification_stays_green(
    db: Database, log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    _append_at(db, log, now - timedelta(days=400), 5, monkeypatch)
    _append_at(db, log, now - timedelta(days=10), 3, monkeypatch)
    with db.session() as session:
        checkpoint = make_checkpoint(session, KEY)
    seen: list[AuditRecord] = []

    result = prune(db, KEY, now - timedelta(days=365), notify=seen.append)

    assert (result.pruned, result.first_pruned_seq, result.last_pruned_seq) == (5, 1, 5)
    assert result.seal_seq == 9
    assert [record.type for record in seen] == ["audit_pruned"]
    with db.session() as session:
        remaining = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        seal = session.get(AuditEvent, 9)
        assert seal is not None and seal.details["last_pruned_seq"] == 5
        assert session.scalar(select(AuditRetentionGate.id)) is None
    assert remaining == [6, 7, 8, 9]
    verified = check(db)
    assert verified.ok and verified.checked == 4 and verified.first_seq == 6
    assert check(db, checkpoint).ok

    # Appends continue the chain, and a second retention run seals over the first seal.
    append(db, log, 2)
    _append_at(db, log, now + timedelta(seconds=1), 0, monkeypatch)
    assert prune(db, KEY, now - timedelta(days=365)).pruned == 0
    second = prune(db, KEY, utcnow())
    assert second.pruned == 6 and second.last_pruned_seq == 11
    assert check(db).ok


def test_deleting_after_a_prune_is_still_caught(
    db: Database, log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    _append_at(db, log, now - timedelta(days=400), 3, monkeypatch)
    append(db, log, 3)
    prune(db, KEY, now - timedelta(days=365))
    tamper(db, delete(AuditEvent).where(AuditEvent.seq == 4))
    result = check(db)
    assert not result.ok and result.first_bad_seq == 4


def test_prune_refuses_naive_or_future_cutoffs(db: Database) -> None:
    with pytest.raises(ValueError, match="timezone"):
        prune(db, KEY, utcnow().replace(tzinfo=None))
    with pytest.raises(ValueError, match="future"):
        prune(db, KEY, utcnow() + timedelta(days=1))
    assert prune(db, KEY, utcnow()).pruned == 0


# --- scrubbing (A02) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["token", "access_token", "refreshToken", "code", "authorization_code", "client_secret",
     "code_verifier", "password", "client_assertion", "api_key", "Cookie"],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["reason", "reason_code", "provider_code", "key_id", "token_type", "new_key_id", "roles"]
)
def test_descriptive_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)


def test_details_are_scrubbed_and_still_verify(db: Database, log: AuditLog) -> None:
    details = {
        "refresh_token": "rt-secret-value",
        "nested": {"code": "auth-code-value", "reason_code": "invalid_grant"},
        "name": "Mallory\r\nFAKE 200 login_success\x1b[31m",
        "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
        "header": "Bearer abc.def",
        "when": utcnow(),
        "roles": {"admin", "auditor"},
        "ratio": float("nan"),
        7: ("a", "b"),
    }
    with write_transaction(db) as session:
        event = log.record(
            session, "login", "failure",
            context=RequestContext(user_agent="evil\nagent", ip="1.2.3.4\r\n"),
            details=details,
        )
    stored = event.details
    assert stored["refresh_token"] == MASK
    assert stored["nested"] == {"code": MASK, "reason_code": "invalid_grant"}
    assert "\r" not in stored["name"] and "\n" not in stored["name"] and "\x1b" not in stored["name"]
    assert stored["name"].startswith("Mallory\\u000d\\u000a")
    assert stored["jwt"] == MASK and stored["header"] == MASK
    assert stored["roles"] == ["admin", "auditor"] and stored["7"] == ["a", "b"]
    assert event.user_agent == "evil\\u000aagent"
    with db.session() as session:
        raw = json.dumps([row.details for row in session.scalars(select(AuditEvent))])
    for secret in ("rt-secret-value", "auth-code-value", "eyJhbGci", "abc.def"):
        assert secret not in raw
    assert check(db).ok


def test_clean_text_escapes_bidi_and_line_separators() -> None:
    assert clean_text("a\u202eb\u2028c") == "a\\u202eb\\u2028c"
    assert clean_text("x" * 10, 5) == "xxxx…"


# --- own-transaction failures and observers --------------------------------------------------


def test_record_failure_commits_in_its_own_transaction_and_notifies(db: Database) -> None:
    seen: list[AuditRecord] = []
    log = AuditLog(KEY, notify=seen.append)
    with db.session() as session:
        session.begin()
        log.record(session, "login", "success")
        session.rollback()
        log.rolled_back(session)
    record = log.record_failure(db, "login", reason="token_rejected", provider_id="contoso")
    assert record is not None and record.seq == 1 and record.details["reason"] == "token_rejected"
    assert [r.seq for r in seen] == [1]
    assert check(db).ok


def test_record_failure_never_raises(tmp_path: Path) -> None:
    broken = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no tables
    assert AuditLog(KEY).record_failure(broken, "login", reason="x") is None
    broken.dispose()


def test_a_failing_observer_does_not_break_the_action(db: Database) -> None:
    def observer(record: AuditRecord) -> None:
        raise RuntimeError("SIEM down")

    log = AuditLog(KEY, notify=observer)
    with write_transaction(db) as session:
        log.record(session, "login", "success")
    log.committed(session)
    assert check(db).ok


# --- export ----------------------------------------------------------------------------------


def test_export_jsonl_with_filters(db: Database, log: AuditLog) -> None:
    append(db, log, 3, user=1, provider="contoso")
    append(db, log, 2, user=2, provider="fabrikam", outcome="failure")
    with db.session() as session:
        everything = [json.loads(line) for line in export(session, batch_size=2)]
        failures = list(export(session, ExportFilters(outcome="failure")))
        user_one = list(export(session, ExportFilters(user_id=1, provider_id="contoso")))
        none = list(export(session, ExportFilters(types=("logout",))))
        recent = list(export(session, ExportFilters(since=utcnow() - timedelta(minutes=1),
                                                    until=utcnow() + timedelta(minutes=1))))
    assert [event["seq"] for event in everything] == [1, 2, 3, 4, 5]
    assert set(everything[0]) >= {"seq", "occurred_at", "type", "mac", "details"}
    assert len(failures) == 2 and len(user_one) == 3 and none == [] and len(recent) == 5


def test_export_csv_escapes_formulas(db: Database, log: AuditLog) -> None:
    with write_transaction(db) as session:
        log.record(session, "login", "success", context=RequestContext(user_agent="=HYPERLINK(1)"))
    progress: list[tuple[int, int]] = []
    with db.session() as session:
        lines = list(export(session, format="csv", progress=lambda d, t: progress.append((d, t))))
    assert lines[0].startswith("seq,occurred_at,type")
    assert ",'=HYPERLINK(1)," in lines[1]
    assert progress[-1] == (1, 1)
    with db.session() as session, pytest.raises(ValueError, match="jsonl"):
        list(export(session, format="xml"))


# --- commands --------------------------------------------------------------------------------


def _runtime(db: Database, tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(
        db=db,
        keys=SimpleNamespace(audit_key=KEY),
        settings=SimpleNamespace(audit_retention_days=365, instance_path=tmp_path),
        audit=AuditLog(KEY),
    )


def test_audit_commands(db: Database, log: AuditLog, tmp_path: Path) -> None:
    append(db, log, 4)
    runner = CliRunner()
    rt = _runtime(db, tmp_path)
    checkpoint_file = tmp_path / "checkpoint.json"

    result = runner.invoke(audit_group, ["checkpoint", "-o", str(checkpoint_file)], obj=rt)
    assert result.exit_code == 0, result.output
    assert json.loads(checkpoint_file.read_text())["seq"] == 4

    result = runner.invoke(audit_group, ["verify", "--checkpoint", str(checkpoint_file)], obj=rt)
    assert result.exit_code == 0 and "OK: 4 audit events" in result.output

    result = runner.invoke(audit_group, ["export", "--format", "csv", "--user", "2"], obj=rt)
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 2

    result = runner.invoke(audit_group, ["prune", "--yes"], obj=rt)
    assert result.exit_code == 0 and "Nothing older" in result.output

    tamper(db, delete(AuditEvent).where(AuditEvent.seq == 4))
    result = runner.invoke(audit_group, ["verify", "--checkpoint", str(checkpoint_file)], obj=rt)
    assert result.exit_code == 1 and "seq 4" in result.output
    tamper(db, delete(AuditEvent).where(AuditEvent.seq == 2))
    result = runner.invoke(audit_group, ["prune", "--yes", "--older-than-days", "1"], obj=rt)
    assert result.exit_code != 0 and "nothing was pruned" in result.output
