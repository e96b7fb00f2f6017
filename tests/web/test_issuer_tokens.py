"""hub.issuer.tokens' Core statements on the refresh hot path, on each backend (PostgreSQL runs a
data-modifying CTE, SQLite two statements): what they write, the spend race, and the grace
window for an application that presents the same token again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hub.core.db import write_transaction
from hub.core.models import RefreshToken, TokenFamily, User, utcnow
from hub.issuer import applications, tokens
from hub.issuer import consent as consent


def a_family(db) -> tuple[int, str]:
    """A family with one refresh token, "first-token"; returns (family id, application id)."""
    with write_transaction(db) as session:
        application = applications.create(session, "Wiki", ["https://wiki.example/cb"]).application
        user = User(display_name="Alice")
        session.add(user)
        session.flush()
        grant = consent.remember(session, user.id, application.id, ["openid", "offline_access"])
        family = tokens.start_family(
            session, application_id=application.id, user_id=user.id, grant_id=grant.id, sid=None,
            origin_sid=None, code_hash=None, scope="openid offline_access", auth_time=utcnow(), provider_id=None,
        )
        tokens.add_refresh_token(session, family, "first-token")
        return family.id, application.id


STRICT = tokens.Rotation(b"k" * 32)
"""No grace window: every second presentation is reuse."""
GRACE = tokens.Rotation(b"k" * 32, timedelta(seconds=10))


def refresh(db, presented: str, application_id: int, rotation: tokens.Rotation) -> tokens.RefreshClaim:
    """One refresh request's storage work in its own transaction: find, then rotate."""
    with write_transaction(db) as session:
        found = tokens.find_refresh(session, presented, application_id, rotation)
        if found.token is not None and tokens.rotate_refresh(session, found, rotation) == tokens.REUSED:
            return tokens.RefreshClaim(None, found.family, "refresh_reused")
        return found


def read_before_the_spend(session, family_id: int, rotation: tokens.Rotation) -> tokens.RefreshClaim:
    """The claim a concurrent request made of "first-token" before another request spent it."""
    row = session.get(RefreshToken, tokens.token_hash("first-token"))
    family = session.get(TokenFamily, family_id)
    return tokens.RefreshClaim(row, family, successor=rotation.successor("first-token"))


def revoked_reason(db, family_id: int) -> str | None:
    with db.session() as session:
        return session.scalar(select(TokenFamily.revoked_reason).where(TokenFamily.id == family_id))


def test_a_refresh_spends_the_token_stores_its_successor_and_marks_the_family_used(db):
    family_id, application_id = a_family(db)
    with db.session() as session:
        started = session.get(TokenFamily, family_id).last_used_at
    found = refresh(db, "first-token", application_id, STRICT)
    assert found.problem is None and found.user is not None and found.grant_id is not None
    assert found.successor == STRICT.successor("first-token") != "first-token"
    with db.session() as session:
        assert session.get(TokenFamily, family_id).last_used_at > started
        assert session.get(RefreshToken, tokens.token_hash("first-token")).used_at is not None
        assert session.get(RefreshToken, tokens.token_hash(found.successor)).used_at is None
    assert refresh(db, found.successor, application_id, STRICT).problem is None  # the successor works


def test_a_token_spent_by_a_concurrent_request_revokes_the_family_without_a_grace_window(db):
    family_id, application_id = a_family(db)
    assert refresh(db, "first-token", application_id, STRICT).problem is None
    with write_transaction(db) as session:  # a second request that read the token before the spend
        claim = read_before_the_spend(session, family_id, STRICT)
        assert tokens.rotate_refresh(session, claim, STRICT) == tokens.REUSED
    assert revoked_reason(db, family_id) == "refresh_reused"


def test_within_the_grace_window_a_racing_request_gets_the_same_successor(db):
    family_id, application_id = a_family(db)
    first = refresh(db, "first-token", application_id, GRACE)
    with write_transaction(db) as session:  # a second request that read the token before the spend
        second = read_before_the_spend(session, family_id, GRACE)
        assert tokens.rotate_refresh(session, second, GRACE) == tokens.REPEATED
    assert first.successor == second.successor
    assert revoked_reason(db, family_id) is None
    assert refresh(db, first.successor, application_id, GRACE).problem is None


def test_within_the_grace_window_a_repetition_gets_the_same_successor_and_the_family_stays_one_chain(db):
    family_id, application_id = a_family(db)
    answers = [refresh(db, "first-token", application_id, GRACE) for _ in range(4)]
    assert {answer.problem for answer in answers} == {None}
    assert [answer.repeated for answer in answers] == [False, True, True, True]
    assert len({answer.successor for answer in answers}) == 1
    with db.session() as session:
        rows = session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id)).all()
        assert len(rows) == 2  # the presented token and its one successor
    assert revoked_reason(db, family_id) is None
    assert refresh(db, answers[0].successor, application_id, GRACE).problem is None


def test_a_repetition_after_the_grace_window_revokes_the_family(db):
    family_id, application_id = a_family(db)
    successor = refresh(db, "first-token", application_id, GRACE).successor
    with write_transaction(db) as session:  # the token was spent longer ago than the window
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == tokens.token_hash("first-token"))
            .values(used_at=utcnow() - timedelta(seconds=11))
        )
    assert refresh(db, "first-token", application_id, GRACE).problem == "refresh_reused"
    assert revoked_reason(db, family_id) == "refresh_reused"
    assert refresh(db, successor, application_id, GRACE).problem == "family_revoked"


def test_a_repetition_after_the_successor_was_used_revokes_the_family(db):
    family_id, application_id = a_family(db)
    successor = refresh(db, "first-token", application_id, GRACE).successor
    assert refresh(db, successor, application_id, GRACE).problem is None
    assert refresh(db, "first-token", application_id, GRACE).problem == "refresh_reused"
    assert revoked_reason(db, family_id) == "refresh_reused"


def test_another_application_presenting_a_spent_token_is_refused_and_changes_nothing(db):
    family_id, application_id = a_family(db)
    refresh(db, "first-token", application_id, GRACE)
    assert refresh(db, "first-token", application_id + 1, GRACE).problem == "refresh_unknown"
    assert revoked_reason(db, family_id) is None


def test_wrong_application_or_unknown_token_finds_nothing(db):
    _, application_id = a_family(db)
    with db.session() as session:
        assert tokens.find_refresh(session, "first-token", application_id + 1, GRACE).problem == "refresh_unknown"
        assert tokens.find_refresh(session, "no-such-token", application_id, GRACE).problem == "refresh_unknown"
        assert tokens.find_refresh(session, None, application_id, GRACE).problem == "refresh_unknown"
