"""hub.actions.users: the rules of disabling, enabling, signing out and the admin role, once for
every front door (refuse a no-op, never lock out the acting administrator, one event shape)."""

from __future__ import annotations

import pytest

from hub.actions import users
from hub.actions.audited import ActionRefused, Actor
from hub.actions.deprovision import CutOff
from hub.core.errors import NotFound
from hub.core.models import User
from tests.web.actionkit import last_event, make_user, shape


@pytest.fixture
def two(rt):
    admin_id, _ = make_user(rt, "ada", is_admin=True)
    user_id, _ = make_user(rt, "bo")
    return Actor(admin_id, "console"), user_id


def is_admin(rt, user_id: int) -> bool:
    with rt.db.session() as session:
        return session.get(User, user_id).is_admin


def test_grant_then_grant_again_is_refused_and_audited(rt, two):
    actor, user_id = two
    users.grant_admin(rt.db, rt.audit, actor, user_id)
    assert is_admin(rt, user_id)
    assert shape(last_event(rt, "admin.grant")) == ("success", actor.user_id, user_id, "console")
    with pytest.raises(ActionRefused, match="already holds"):
        users.grant_admin(rt.db, rt.audit, actor, user_id)
    failure = last_event(rt, "admin.grant")
    assert shape(failure) == ("failure", actor.user_id, user_id, "console")
    assert failure.details["reason"] == "admin_action_refused" and "already" in failure.details["message"]


def test_revoke_refuses_a_non_admin_and_yourself(rt, two):
    actor, user_id = two
    with pytest.raises(ActionRefused, match="does not hold"):
        users.revoke_admin(rt.db, rt.audit, actor, user_id)
    with pytest.raises(ActionRefused, match="yourself"):
        users.revoke_admin(rt.db, rt.audit, actor, actor.user_id)
    assert is_admin(rt, actor.user_id)


def test_disable_enable_refuse_no_ops_and_yourself(rt, two):
    actor, user_id = two
    with pytest.raises(ActionRefused, match="not disabled"):
        users.enable(rt.db, rt.audit, actor, user_id)
    assert users.disable(rt.db, rt.audit, None, actor, user_id) == CutOff(0, 0, 0)
    with pytest.raises(ActionRefused, match="already disabled"):
        users.disable(rt.db, rt.audit, None, actor, user_id)
    with pytest.raises(ActionRefused, match="yourself"):
        users.disable(rt.db, rt.audit, None, actor, actor.user_id)
    users.enable(rt.db, rt.audit, actor, user_id)
    assert [shape(last_event(rt, t))[0] for t in ("admin.disable_user", "admin.enable_user")] == ["failure", "success"]


def test_a_missing_user_is_not_found_and_audited(rt, two):
    actor, _ = two
    with pytest.raises(NotFound):
        users.sign_out_everywhere(rt.db, rt.audit, actor, 999)
    assert shape(last_event(rt, "admin.signout_everywhere")) == ("failure", actor.user_id, 999, "console")


def test_the_cli_has_no_acting_person_but_the_same_rules(rt, two):
    _, user_id = two
    operator = Actor(None, "cli")
    users.grant_admin(rt.db, rt.audit, operator, user_id)
    with pytest.raises(ActionRefused):
        users.grant_admin(rt.db, rt.audit, operator, user_id)
    assert shape(last_event(rt, "admin.grant")) == ("failure", None, user_id, "cli")
