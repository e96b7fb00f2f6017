"""hub.actions.api_keys: creating and revoking keys of the token API, audited in the one event
shape; revoking a revoked key is refused like every no-op."""

from __future__ import annotations

import pytest

from hub.actions import api_keys
from hub.actions.audited import ActionRefused, Actor
from hub.core.errors import HubError
from tests.web.actionkit import audit_events, last_event, shape

OPERATOR = Actor(None, "cli")


def test_create_then_revoke_once(rt):
    created = api_keys.create(rt.db, rt.audit, OPERATOR, "billing", providers=["fake"])
    event = last_event(rt, "api_key.create")
    assert shape(event) == ("success", None, None, "cli") and event.details["providers"] == ["fake"]
    assert created.plaintext not in str(event.details)
    api_keys.revoke(rt.db, rt.audit, OPERATOR, created.row.id)
    with pytest.raises(ActionRefused, match="already revoked"):
        api_keys.revoke(rt.db, rt.audit, OPERATOR, created.row.id)
    assert [shape(e)[0] for e in audit_events(rt, "api_key.revoke")] == ["success", "failure"]


def test_a_bad_key_or_a_missing_one_is_refused_and_audited(rt):
    with pytest.raises(HubError):
        api_keys.create(rt.db, rt.audit, OPERATOR, "  ")
    assert shape(last_event(rt, "api_key.create"))[0] == "failure"
    with pytest.raises(HubError) as missing:
        api_keys.revoke(rt.db, rt.audit, OPERATOR, 404)
    assert missing.value.status == 404 and last_event(rt, "api_key.revoke").details["api_key_id"] == 404
