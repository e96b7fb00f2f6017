"""hub.actions.applications: the registry's changes refuse no-ops and record one event shape,
whether the console or the CLI asks."""

from __future__ import annotations

import pytest

from hub.actions import applications as actions
from hub.actions.audited import ActionRefused, Actor
from hub.issuer.applications import ApplicationError
from tests.web.actionkit import audit_events, last_event, make_user, shape


@pytest.mark.parametrize("actor", [Actor(None, "cli"), Actor(1, "console")], ids=["cli", "console"])
def test_register_disable_enable_delete_with_one_event_shape(rt, actor):
    if actor.user_id:
        make_user(rt, "ada", is_admin=True)
    created = actions.register(rt.db, rt.audit, actor, actions.Registration("Wiki", ["https://wiki.example/cb"]))
    client_id = created.application.client_id
    assert created.client_secret
    with pytest.raises(ActionRefused, match="not disabled"):
        actions.enable(rt.db, rt.audit, actor, client_id)
    actions.disable(rt.db, rt.audit, actor, client_id)
    with pytest.raises(ActionRefused, match="already disabled"):
        actions.disable(rt.db, rt.audit, actor, client_id)
    actions.enable(rt.db, rt.audit, actor, client_id)
    actions.rotate_secret(rt.db, rt.audit, actor, client_id)
    actions.delete(rt.db, rt.audit, actor, client_id)
    for kind in ("create", "rotate_secret", "enable", "delete"):
        event = last_event(rt, f"application.{kind}")
        assert shape(event) == ("success", actor.user_id, None, actor.via)
        assert event.details["client_id"] == client_id and event.details["application"] == "Wiki"
    assert [shape(e)[0] for e in audit_events(rt, "application.disable")] == ["success", "failure"]
    assert created.client_secret not in str([e.details for e in audit_events(rt, "application.create")])


def test_a_bad_registration_is_refused_and_audited(rt):
    with pytest.raises(ApplicationError):
        actions.register(rt.db, rt.audit, Actor(None, "cli"), actions.Registration("Bad", ["not a uri"]))
    failure = last_event(rt, "application.create")
    assert shape(failure) == ("failure", None, None, "cli") and failure.details["application"] == "Bad"


def test_remove_access_without_a_grant_is_refused(rt):
    user_id, _ = make_user(rt, "bo")
    created = actions.register(rt.db, rt.audit, Actor(None, "cli"), actions.Registration("Wiki", ["https://wiki.example/cb"]))
    with pytest.raises(ActionRefused, match="no access to remove"):
        actions.remove_access(rt.db, rt.audit, Actor(user_id, "account"), user_id, created.application.client_id)
    assert shape(last_event(rt, "grant.remove")) == ("failure", user_id, user_id, "account")
