"""hub.actions.upstream_tokens: one hand-out for API keys and applications alike: the provider must
be running, the token comes from the vault, one success event names the caller and `via="api"`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.actions import upstream_tokens
from hub.core.errors import HubError
from hub.core.models import LinkedAccount
from tests.conftest import sign_in
from tests.web.actionkit import audit_events, last_event


@pytest.fixture
def account(rt, client, idp) -> LinkedAccount:
    sign_in(client, idp, "alice")
    with rt.db.session() as session:
        return session.scalars(select(LinkedAccount)).one()


CALLERS = [
    upstream_tokens.Caller("api_key", {"api_key_id": 7, "api_key_name": "billing"}),
    upstream_tokens.Caller("application", {"client_id": "abc", "application": "Wiki"}),
]


@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.kind)
def test_a_hand_out_is_one_event_naming_the_caller(rt, idp, account, caller):
    token = upstream_tokens.hand_out(rt.db, rt.audit, rt.vault, rt.providers, caller, account)
    assert token.value in idp.access
    event = last_event(rt, caller.event)
    assert (event.outcome, event.actor_user_id, event.subject_user_id, event.provider_id) == (
        "success", None, account.user_id, "fake",
    )
    assert event.details == {**caller.identity, "caller": caller.kind, "linked_account_id": account.id, "via": "api"}
    assert token.value not in str(event.details)


def test_a_provider_that_is_not_running_hands_out_nothing(rt, account):
    with pytest.raises(HubError) as raised:
        upstream_tokens.hand_out(rt.db, rt.audit, rt.vault, {}, CALLERS[0], account)
    assert raised.value.code == "provider_unavailable"
    assert audit_events(rt, "api_key.use") == []
