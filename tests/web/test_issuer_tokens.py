"""hub.issuer.tokens' Core statements on the refresh hot path, on each backend (PostgreSQL runs a
data-modifying CTE, SQLite two statements): what they write, and the spend race."""

from __future__ import annotations

from sqlalchemy import select

from hub.db import write_transaction
from hub.issuer import applications, tokens
from hub.issuer import grants as consent
from hub.models import RefreshToken, TokenFamily, User, utcnow


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
            code_hash=None, scope="openid offline_access", auth_time=utcnow(), provider_id=None,
        )
        tokens.add_refresh_token(session, family, "first-token")
        return family.id, application.id


def test_a_refresh_spends_the_token_and_marks_the_family_used(db):
    family_id, application_id = a_family(db)
    with db.session() as session:
        started = session.get(TokenFamily, family_id).last_used_at
    with write_transaction(db) as session:
        found = tokens.find_refresh(session, "first-token", application_id)
        assert found.token is not None and found.user is not None and found.grant_id is not None
        assert tokens.spend_refresh(session, found.token, found.family)
        tokens.add_refresh_token(session, found.family, "second-token")
    with db.session() as session:
        assert session.get(TokenFamily, family_id).last_used_at > started
        assert session.get(RefreshToken, tokens.token_hash("first-token")).used_at is not None
        assert session.get(RefreshToken, tokens.token_hash("second-token")).used_at is None


def test_a_token_spent_by_a_concurrent_request_revokes_the_family(db):
    family_id, application_id = a_family(db)
    with write_transaction(db) as session:
        found = tokens.find_refresh(session, "first-token", application_id)
        assert tokens.spend_refresh(session, found.token, found.family)
    with write_transaction(db) as session:  # a second request that read the token before the spend
        row = session.get(RefreshToken, tokens.token_hash("first-token"))
        family = session.get(TokenFamily, family_id)
        assert not tokens.spend_refresh(session, row, family)
    with db.session() as session:
        assert session.scalar(select(TokenFamily.revoked_reason).where(TokenFamily.id == family_id)) == "refresh_reused"


def test_wrong_application_or_unknown_token_finds_nothing(db):
    _, application_id = a_family(db)
    with db.session() as session:
        assert tokens.find_refresh(session, "first-token", application_id + 1).problem == "refresh_unknown"
        assert tokens.find_refresh(session, "no-such-token", application_id).problem == "refresh_unknown"
        assert tokens.find_refresh(session, None, application_id).problem == "refresh_unknown"
