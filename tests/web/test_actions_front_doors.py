"""Every front door of hub.actions wires the same action: the console, the `hub` command, the
person's account page and the API each leave the same audit event shape, with their own `via`,
and the CLI now refuses the no-ops the console always refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core import apikeys
from hub.core.db import write_transaction
from hub.core.models import LinkedAccount, User
from tests.conftest import callback_path, csrf_of, sign_in, start_signin
from tests.web.actionkit import audit_events, last_event, shape


@pytest.fixture
def bob(app, idp):
    """Bob (user 2, after alice the administrator) with a second account at fake2."""
    client = app.test_client()
    sign_in(client, idp, "bob")
    url = start_signin(client, "fake2", intent="link", next="/account")
    client.get(callback_path(idp.authorize(url, "mallory")))
    return client


def accounts_of(rt, user_id: int) -> dict[str, int]:
    with rt.db.session() as session:
        return dict(session.execute(select(LinkedAccount.provider_id, LinkedAccount.id).where(LinkedAccount.user_id == user_id)).all())


def refusal(result) -> str:
    """What the CLI says on refusing (hub.cli.main prints the HubError; in-process it is raised)."""
    return str(result.exception or result.output)


def console_post(client, path: str, **form: str):
    return client.post(path, data={"csrf_token": csrf_of(client, "/account"), "confirm": "yes", **form})


def test_grant_from_the_console_and_the_cli_is_one_event_and_one_rule(rt, admin, bob, hub_cli):
    assert console_post(admin, "/admin/users/2/grant").status_code == 303
    assert shape(last_event(rt, "admin.grant")) == ("success", 1, 2, "console")
    again = hub_cli("admin", "grant", "2")
    assert again.exit_code != 0 and "already holds" in refusal(again)
    assert shape(last_event(rt, "admin.grant")) == ("failure", None, 2, "cli")
    assert hub_cli("admin", "revoke", "2").exit_code == 0
    assert shape(last_event(rt, "admin.revoke")) == ("success", None, 2, "cli")
    assert console_post(admin, "/admin/users/2/revoke").status_code == 409
    assert shape(last_event(rt, "admin.revoke")) == ("failure", 1, 2, "console")
    with rt.db.session() as session:
        assert session.get(User, 2).is_admin is False


def test_the_cli_refuses_to_disable_a_disabled_application(rt, hub_cli):
    created = hub_cli("apps", "create", "Wiki", "--redirect-uri", "https://wiki.example/cb", "--json")
    client_id = created.stdout.split('"client_id": "')[1].split('"')[0]
    assert hub_cli("apps", "disable", client_id).exit_code == 0
    again = hub_cli("apps", "disable", client_id)
    assert again.exit_code != 0 and "already disabled" in refusal(again)
    assert [shape(e) for e in audit_events(rt, "application.disable")] == [
        ("success", None, None, "cli"), ("failure", None, None, "cli"),
    ]


def test_unlink_from_the_account_page_and_the_console_is_one_event(rt, admin, bob, idp):
    linked = accounts_of(rt, 2)
    answer = bob.post(f"/account/linked/{linked['fake2']}/unlink", data={"csrf_token": csrf_of(bob, "/account")})
    assert answer.status_code == 303
    assert shape(last_event(rt, "unlink")) == ("success", 2, 2, "account")
    url = start_signin(bob, "fake2", intent="link", next="/account")
    bob.get(callback_path(idp.authorize(url, "mallory")))
    assert console_post(admin, "/admin/users/2/unlink", account=str(accounts_of(rt, 2)["fake2"])).status_code == 303
    assert shape(last_event(rt, "unlink")) == ("success", 1, 2, "console")
    # The last account, from either door: refused, audited the same way.
    last = accounts_of(rt, 2)["fake"]
    assert bob.post(f"/account/linked/{last}/unlink", data={"csrf_token": csrf_of(bob, "/account")}).status_code == 409
    assert shape(last_event(rt, "unlink")) == ("failure", 2, 2, "account")
    assert console_post(admin, "/admin/users/2/unlink", account=str(last)).status_code == 409
    assert shape(last_event(rt, "unlink")) == ("failure", 1, 2, "console")


def test_remove_access_from_the_console_without_confirmation_is_refused_and_audited(rt, admin, bob):
    answer = admin.post("/admin/users/2/applications/nope/remove", data={"csrf_token": csrf_of(admin, "/account")})
    assert answer.status_code == 409
    failure = last_event(rt, "grant.remove")
    assert shape(failure) == ("failure", 1, 2, "console") and failure.details["reason"] == "not_confirmed"


def test_the_api_hands_out_a_token_with_the_same_event_shape(rt, client, idp):
    sign_in(client, idp, "alice")
    with write_transaction(rt.db) as session:
        key = apikeys.create(session, "billing-service")
    account = accounts_of(rt, 1)["fake"]
    answer = client.post(f"/api/v1/accounts/{account}/access-token", headers={"Authorization": f"Bearer {key.plaintext}"})
    assert answer.status_code == 200
    event = last_event(rt, "api_key.use")
    assert shape(event) == ("success", None, 1, "api")
    assert (event.details["caller"], event.details["api_key_name"]) == ("api_key", "billing-service")
    with write_transaction(rt.db) as session:
        narrow = apikeys.create(session, "fake2-only", providers=["fake2"])
    refused = client.post(f"/api/v1/accounts/{account}/access-token", headers={"Authorization": f"Bearer {narrow.plaintext}"})
    assert refused.status_code == 403
    failure = last_event(rt, "api_key.use")
    assert shape(failure) == ("failure", None, 1, "api")
    assert (failure.details["caller"], failure.details["api_key_name"]) == ("api_key", "fake2-only")


def test_the_cli_refuses_to_revoke_a_revoked_api_key(rt, hub_cli):
    assert hub_cli("api-keys", "create", "billing").exit_code == 0
    assert hub_cli("api-keys", "revoke", "1").exit_code == 0
    again = hub_cli("api-keys", "revoke", "1")
    assert again.exit_code != 0 and "already revoked" in refusal(again)
    assert [shape(e) for e in audit_events(rt, "api_key.revoke")] == [
        ("success", None, None, "cli"), ("failure", None, None, "cli"),
    ]
