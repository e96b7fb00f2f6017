"""hub.actions.linked_accounts: unlink and revoke tokens, for the person and the administrator
alike (never the last account, only the user's own account, the provider asked only when the
change will happen), with one event shape."""

from __future__ import annotations

import pytest

from hub.actions import linked_accounts
from hub.actions.audited import ActionRefused, Actor
from hub.core.accounts import CannotUnlink
from hub.core.errors import NotFound
from hub.core.models import LinkedAccount
from tests.web.actionkit import last_event, make_user, shape


class Upstream:
    """Stands in for hub.upstream.revocation: records which accounts the provider was asked about."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, str]] = []

    def __call__(self, account_id: int, provider_id: str) -> str:
        self.asked.append((account_id, provider_id))
        return "revoked at the provider"


@pytest.mark.parametrize("via", ["console", "account"])
def test_unlink_never_the_last_account_and_asks_no_provider_then(rt, via):
    user_id, (first, second) = make_user(rt, "bo", providers=("fake", "fake2"))
    actor = Actor(user_id if via == "account" else None, via)
    upstream = Upstream()
    assert linked_accounts.unlink(rt.db, rt.audit, upstream, actor, user_id, second) == 0
    event = last_event(rt, "unlink")
    assert shape(event) == ("success", actor.user_id, user_id, via) and event.provider_id == "fake2"
    assert event.details["provider_revocation"] == "revoked at the provider"
    with pytest.raises(CannotUnlink, match="last linked account"):
        linked_accounts.unlink(rt.db, rt.audit, upstream, actor, user_id, first)
    assert upstream.asked == [(second, "fake2")]
    with rt.db.session() as session:
        assert session.get(LinkedAccount, first) is not None
    failure = last_event(rt, "unlink")
    assert shape(failure) == ("failure", actor.user_id, user_id, via) and failure.provider_id == "fake"


def test_an_account_of_another_user_is_not_found(rt):
    user_id, _ = make_user(rt, "bo", providers=("fake", "fake2"))
    _, (others,) = make_user(rt, "cy")
    upstream = Upstream()
    with pytest.raises(NotFound):
        linked_accounts.unlink(rt.db, rt.audit, upstream, Actor(user_id, "account"), user_id, others)
    with pytest.raises(NotFound):
        linked_accounts.revoke_tokens(rt.db, rt.audit, upstream, Actor(user_id, "console"), user_id, others)
    assert upstream.asked == []
    assert shape(last_event(rt, "admin.revoke_tokens"))[0] == "failure"


def test_revoke_tokens_refuses_an_account_without_tokens(rt):
    user_id, (account,) = make_user(rt, "bo")
    with pytest.raises(ActionRefused, match="no stored tokens"):
        linked_accounts.revoke_tokens(rt.db, rt.audit, Upstream(), Actor(None, "console"), user_id, account)


def test_unlink_revokes_the_application_families_the_account_admitted(rt):
    """An offline family signed in through the unlinked account's provider must not outlive it;
    a family admitted through the user's other account stays."""
    from hub.core.db import write_transaction
    from hub.core.models import TokenFamily, utcnow
    from hub.issuer import applications, tokens

    user_id, (first, second) = make_user(rt, "bo", providers=("fake", "fake2"))
    with write_transaction(rt.db) as session:
        created = applications.create(session, "Wiki", ["https://wiki.example.test/cb"])
        application_id = created.application.id
        through = {
            provider: tokens.start_family(
                session, application_id=application_id, user_id=user_id, grant_id=None, sid=None, origin_sid=None,
                code_hash=None, scope="openid offline_access", auth_time=utcnow(), provider_id=provider,
            ).id
            for provider in ("fake", "fake2")
        }
    linked_accounts.unlink(rt.db, rt.audit, Upstream(), Actor(user_id, "account"), user_id, second)
    with rt.db.session() as session:
        assert session.get(TokenFamily, through["fake2"]).revoked_at is not None
        assert session.get(TokenFamily, through["fake"]).revoked_at is None
    assert last_event(rt, "unlink").details["application_grants_revoked"] == 1
