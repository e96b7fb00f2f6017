"""Two first authorizations of one person for one application at the same moment (two browser
tabs, two nodes): both succeed, one grant remains with both requests' scopes, one SSO session.
On PostgreSQL the second writer really waits on the first one's uncommitted rows (seen in
pg_stat_activity) before the first commits; on SQLite writers are serialised by BEGIN IMMEDIATE."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select, text

from hub.core import sessions
from hub.core.db import Database, write_transaction
from hub.core.digest import digest
from hub.core.models import Grant, SsoSession, SsoSessionApplication, User
from hub.issuer import applications, sso
from hub.issuer import consent as consent

POLICY = sessions.SessionPolicy(idle=timedelta(hours=1), absolute=timedelta(hours=8))


def authorize_writes(session, user_id: int, application_id: int, session_hash: str, scopes: list[str]) -> None:
    """What /oauth2/authorize writes for a signed-in person who may be given a code."""
    consent.remember(session, user_id, application_id, scopes)
    sid = sso.sid_for(session, session_hash, user_id)
    sso.record_application(session, sid, application_id)


def someone_waits_for_a_lock(db: Database) -> bool:
    with db.engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar())


def test_two_first_authorizations_at_once_both_succeed(db):
    with write_transaction(db) as session:
        application_id = applications.create(session, "Wiki", ["https://wiki.example/cb"]).application.id
        user = User(display_name="Alice")
        session.add(user)
        session.flush()
        user_id = user.id
        session_hash = digest(sessions.create(session, user_id, POLICY, provider_id="fake", linked_account_id=None,
                                              roles=frozenset()))
    first_wrote, second_waits = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with write_transaction(db) as session:
                authorize_writes(session, user_id, application_id, session_hash, ["openid", "profile"])
                first_wrote.set()
                assert second_waits.wait(30)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
            first_wrote.set()

    def second() -> None:
        try:
            with write_transaction(db) as session:
                authorize_writes(session, user_id, application_id, session_hash, ["openid", "email"])
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    one = threading.Thread(target=first)
    one.start()
    assert first_wrote.wait(30)
    two = threading.Thread(target=second)
    two.start()
    if not db.is_sqlite:  # let the first commit only once the second is blocked on its rows
        deadline = time.monotonic() + 30
        while not someone_waits_for_a_lock(db) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert someone_waits_for_a_lock(db), "the second authorization never met the first's rows: no race was run"
    second_waits.set()
    one.join(30)
    two.join(30)
    assert errors == []
    with db.session() as session:
        [grant] = session.scalars(select(Grant).where(Grant.user_id == user_id)).all()
        assert sorted(grant.scopes.split()) == ["email", "openid", "profile"]
        [sid] = session.scalars(select(SsoSession.sid).where(SsoSession.session_id_hash == session_hash)).all()
        assert session.scalars(select(SsoSessionApplication.application_id).where(SsoSessionApplication.sid == sid)).all() == [application_id]
