"""SCIM 2.0 provisioning (issue 19, push): Entra's shapes, deprovisioning through the one disable
path, re-provisioning that respects an administrator's disable, and refusals as RFC 7644 errors."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hub.actions import users
from hub.actions.audited import Actor
from hub.core.models import AuditEvent, LinkedAccount, User

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
OID = "5f2a7c1e-0b7d-4c9a-9f5e-1d2c3b4a5f60"


@pytest.fixture
def hub_config(hub_config):
    hub_config["providers"]["contoso"] = {
        "type": "fake", "name": "Contoso", "client_id": "hub", "client_secret": "fake-client-secret",
        "scim_group_roles": {"Hub Admins": "admin"},
    }
    hub_config["providers"]["fabrikam"] = {**hub_config["providers"]["contoso"], "name": "Fabrikam"}
    return hub_config


@pytest.fixture
def scim(hub_cli):
    result = hub_cli("scim", "token", "contoso", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    return created


def call(client, scim, method, path, body=None, token=None, raw=None):
    headers = {"Authorization": f"Bearer {token or scim['token']}", "Content-Type": "application/scim+json"}
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return client.open(urlsplit(scim["url"]).path + path, method=method, headers=headers, data=data)


def entra_user(oid=OID, user_name="adele@contoso.com", active=True):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": oid, "userName": user_name, "active": active, "displayName": "Adele Vance",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
        ENTERPRISE: {"department": "Retail", "employeeNumber": "42"},
        "meta": {"resourceType": "User"},
    }


def entra_patch(*operations):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def create(client, scim, **kwargs):
    response = call(client, scim, "POST", "/Users", entra_user(**kwargs))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def hub_user(rt, subject=OID):
    with rt.db.session() as session:
        account = session.scalar(select(LinkedAccount).where(LinkedAccount.provider_id == "contoso", LinkedAccount.subject == subject))
        return session.get(User, account.user_id), list(account.roles)


def test_the_cli_prints_the_url_and_token_as_json(scim):
    assert set(scim) == {"url", "token"}
    assert scim["url"].endswith("/scim/v2/contoso") and scim["token"].startswith("scim_")


def test_create_get_and_the_matching_queries_entra_sends(client, scim, rt):
    created = create(client, scim)
    assert created["externalId"] == OID and created["active"] is True and created[ENTERPRISE]["department"] == "Retail"
    assert call(client, scim, "GET", f"/Users/{created['id']}").get_json()["userName"] == "adele@contoso.com"
    for query in (f'externalId eq "{OID}"', 'userName eq "ADELE@contoso.com"'):
        listing = call(client, scim, "GET", "/Users?filter=" + query).get_json()
        assert listing["totalResults"] == 1 and listing["Resources"][0]["id"] == created["id"]
    assert call(client, scim, "GET", '/Users?filter=userName eq "nobody@contoso.com"').get_json()["totalResults"] == 0
    user, _ = hub_user(rt)
    assert user.display_name == "Adele Vance" and user.disabled_at is None
    assert call(client, scim, "POST", "/Users", entra_user()).status_code == 409


def test_paging(client, scim):
    for n in range(3):
        create(client, scim, oid=f"oid-{n}", user_name=f"u{n}@contoso.com")
    page = call(client, scim, "GET", "/Users?startIndex=2&count=1").get_json()
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 1


def test_entra_patch_shapes_deprovision_then_reprovision(client, scim, rt):
    created = create(client, scim)
    path = f"/Users/{created['id']}"
    response = call(client, scim, "PATCH", path, entra_patch({"op": "Replace", "path": "active", "value": "False"}))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["active"] is False
    user, _ = hub_user(rt)
    assert user.disabled_at is not None and user.disabled_by == "provisioning:contoso"
    response = call(client, scim, "PATCH", path, entra_patch({"op": "Replace", "value": {"active": True, "displayName": "Adele V."}}))
    assert response.status_code == 200 and response.get_json()["displayName"] == "Adele V."
    user, _ = hub_user(rt)
    assert user.disabled_at is None
    with rt.db.session() as session:
        events = [e.type for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        details = session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.disable_user")).one().details
    assert "scim.user_patch" in events and "admin.enable_user" in events and details["via"] == "scim"


def test_an_admin_disable_survives_reprovisioning(client, scim, rt):
    created = create(client, scim)
    user, _ = hub_user(rt)
    users.disable(rt.db, rt.audit, None, Actor(None, "cli"), user.id)
    response = call(client, scim, "PUT", f"/Users/{created['id']}", entra_user(active=True))
    assert response.status_code == 200
    user, _ = hub_user(rt)
    assert user.disabled_at is not None and user.disabled_by == "admin"


def test_delete_disables_and_a_new_push_lands_on_the_same_user(client, scim, rt):
    created = create(client, scim)
    first, _ = hub_user(rt)
    assert call(client, scim, "DELETE", f"/Users/{created['id']}").status_code == 204
    assert call(client, scim, "GET", f"/Users/{created['id']}").status_code == 404
    assert hub_user(rt)[0].disabled_by == "provisioning:contoso"
    create(client, scim)
    again, _ = hub_user(rt)
    assert again.id == first.id and again.disabled_at is None


def test_groups_map_to_roles_and_members_come_and_go(client, scim, rt):
    created = create(client, scim)
    group = call(client, scim, "POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Hub Admins"})
    assert group.status_code == 201, group.get_data(as_text=True)
    path = f"/Groups/{group.get_json()['id']}"
    response = call(client, scim, "PATCH", path, entra_patch({"op": "Add", "path": "members", "value": [{"value": created["id"]}]}))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert hub_user(rt)[1] == ["admin"]
    response = call(client, scim, "PATCH", path, entra_patch({"op": "Remove", "path": f'members[value eq "{created["id"]}"]'}))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert hub_user(rt)[1] == []
    call(client, scim, "PATCH", path, entra_patch({"op": "Add", "path": "members", "value": [{"value": created["id"]}]}))
    assert hub_user(rt)[1] == ["admin"]
    # Entra's removal: path "members" with the members to remove as the value
    response = call(client, scim, "PATCH", path, entra_patch({"op": "Remove", "path": "members", "value": [{"value": created["id"]}]}))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert hub_user(rt)[1] == []
    bad = entra_patch({"op": "Remove", "path": "members", "value": [{"value": 'x" or "1"="1'}]})
    assert call(client, scim, "PATCH", path, bad).status_code == 400
    assert call(client, scim, "PUT", path, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Hub Admins", "members": [{"value": created["id"]}]}).status_code == 200
    assert hub_user(rt)[1] == ["admin"]
    assert call(client, scim, "DELETE", path).status_code == 204
    assert hub_user(rt)[1] == []


def test_discovery(client, scim):
    assert call(client, scim, "GET", "/ServiceProviderConfig").get_json()["patch"]["supported"] is True
    assert call(client, scim, "GET", "/Schemas").get_json()["totalResults"] == 3
    assert call(client, scim, "GET", "/ResourceTypes").get_json()["totalResults"] == 2


@pytest.mark.parametrize("token", ["", "scim_nope_nope", "hub_x_y", "scim_" + "a" * 5000])
def test_bad_tokens_are_401(client, scim, token):
    response = call(client, scim, "GET", "/Users", token=token or " ")
    assert response.status_code == 401
    assert response.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_a_revoked_token_is_401(client, scim, hub_cli):
    assert call(client, scim, "GET", "/Users").status_code == 200
    assert hub_cli("scim", "revoke", "1").exit_code == 0
    assert call(client, scim, "GET", "/Users").status_code == 401


@pytest.mark.parametrize("raw", ["{", "[]", "null", '{"userName": 5, "externalId": []}', '{"schemas": 7}', "\xff"])
def test_malformed_bodies_are_400(client, scim, rt, raw):
    response = call(client, scim, "POST", "/Users", raw=raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "400" and body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    with rt.db.session() as session:
        assert session.scalars(select(User)).all() == []


def test_bad_patches_are_400(client, scim):
    created = create(client, scim)
    for patch in (entra_patch({"op": "Explode", "path": "active", "value": True}), entra_patch({"op": "Replace", "path": "externalId", "value": "other"}), {"Operations": 3}):
        assert call(client, scim, "PATCH", f"/Users/{created['id']}", patch).status_code == 400


def test_oversized_bodies_are_413(client, scim):
    response = call(client, scim, "POST", "/Users", raw=json.dumps(entra_user()) + " " * 300_000)
    assert response.status_code == 413 and response.get_json()["status"] == "413"


@pytest.mark.parametrize("query", [
    "userName eq \"x\" or 1=1", "userName eq \"x'; DROP TABLE users; --\" or userName pr", "userName co \"a\"",
    "password eq \"x\"", "name.familyName eq \"x\"", "userName eq", "(((", "userName gt \"a\"",
])
def test_filter_injection_is_invalid_filter(client, scim, query):
    response = call(client, scim, "GET", "/Users?filter=" + query)
    assert response.status_code == 400 and response.get_json()["scimType"] == "invalidFilter"


def test_a_token_serves_its_own_provider_only(client, scim):
    other = dict(scim, url=scim["url"].replace("/contoso", "/fake"))
    assert call(client, other, "GET", "/Users").status_code == 401


def test_first_sign_in_lands_on_the_provisioned_user_with_the_role_given_before(client, scim, rt, idp):
    from tests.conftest import callback_path, start_signin

    create(client, scim, oid="sub-bob", user_name="bob@contoso.com")
    provisioned, _ = hub_user(rt, subject="sub-bob")
    users.grant_admin(rt.db, rt.audit, Actor(None, "cli"), provisioned.id)
    response = client.get(callback_path(idp.authorize(start_signin(client, provider="contoso"), "bob")))
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    with rt.db.session() as session:
        assert len(session.scalars(select(User)).all()) == 1
        account = session.scalar(select(LinkedAccount).where(LinkedAccount.subject == "sub-bob"))
        assert account.user_id == provisioned.id and account.last_sign_in_at is not None
    assert client.get("/admin/").status_code == 200


def test_every_change_is_audited_with_the_token_name(client, scim, rt):
    create(client, scim)
    call(client, scim, "POST", "/Users", raw="{")
    with rt.db.session() as session:
        events = {e.type: e for e in session.scalars(select(AuditEvent))}
    assert events["scim.user_create"].details["scim_token_name"] == "contoso provisioning"
    assert events["scim.user_create"].details["via"] == "scim"
    assert events["scim.refused"].outcome == "failure" and events["scim.refused"].details["scim_token_name"] == "contoso provisioning"


def test_each_token_has_its_own_rate_limit(hub_config, plugins, scim, hub_cli):
    from hub.core.config import load_settings
    from hub.web.app import create_app

    other = json.loads(hub_cli("scim", "token", "contoso", "--json").output)
    app = create_app(settings=load_settings(environ={}, overrides={**hub_config, "ratelimit_scim": "3 per minute"}), plugins=plugins)
    try:
        client = app.test_client()
        answers = [call(client, scim, "GET", "/Users") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429] and answers[-1].is_json
        assert call(client, other, "GET", "/Users").status_code == 200
    finally:
        app.extensions["hub"].close()


def test_unknown_resources_are_404_and_unknown_members_400(client, scim):
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = call(client, scim, method, "/Users/does-not-exist", entra_user() if method == "PUT" else entra_patch({"op": "Replace", "path": "active", "value": False}))
        assert response.status_code == 404 and response.get_json()["status"] == "404", method
    response = call(client, scim, "POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G", "members": [{"value": "nobody"}]})
    assert response.status_code == 400 and response.get_json()["scimType"] == "invalidValue"


@pytest.mark.parametrize("header, expected", [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("BEARER abc", "abc"), ("Bearer ", None), ("Bearer", None),
    ("Basic abc", None), (None, None),
])
def test_one_reading_of_the_bearer_header(app, header, expected):
    from hub.web.request import bearer_token

    with app.test_request_context(headers={"Authorization": header} if header else {}):
        assert bearer_token() == expected


def test_a_padded_token_shares_its_own_rate_limit(hub_config, plugins, scim):
    from hub.core.config import load_settings
    from hub.web.app import create_app

    app = create_app(settings=load_settings(environ={}, overrides={**hub_config, "ratelimit_scim": "2 per minute"}), plugins=plugins)
    try:
        client = app.test_client()
        assert [call(client, scim, "GET", "/Users").status_code for _ in range(2)] == [200, 200]
        assert call(client, scim, "GET", "/Users", token=" " + scim["token"]).status_code == 429
    finally:
        app.extensions["hub"].close()


def test_two_concurrent_member_patches_both_land(app, client, scim, monkeypatch):
    import threading

    from scim2_models import PatchOp

    first = create(client, scim)["id"]
    second = create(client, scim, oid="6f2a7c1e-0b7d-4c9a-9f5e-1d2c3b4a5f61", user_name="alex@contoso.com")["id"]
    path = f"/Groups/{call(client, scim, 'POST', '/Groups', {'schemas': ['urn:ietf:params:scim:schemas:core:2.0:Group'], 'displayName': 'G'}).get_json()['id']}"
    answers = []
    real_patch = PatchOp.patch

    def other_request():
        answers.append(call(app.test_client(), scim, "PATCH", path, entra_patch({"op": "Add", "path": "members", "value": [{"value": second}]})).status_code)

    def interleaved(self, resource):
        if threading.current_thread() is threading.main_thread() and not answers and not started:
            started.append(threading.Thread(target=other_request))
            started[0].start()
            started[0].join(2)  # done already where the first request holds no lock; blocked on it otherwise
        return real_patch(self, resource)

    started: list = []
    monkeypatch.setattr(PatchOp, "patch", interleaved)
    response = call(client, scim, "PATCH", path, entra_patch({"op": "Add", "path": "members", "value": [{"value": first}]}))
    started[0].join()
    assert response.status_code == 200 and answers == [200]
    members = {m["value"] for m in call(client, scim, "GET", path).get_json()["members"]}
    assert members == {first, second}


def test_an_inactive_joiner_is_created_disabled_in_one_commit(client, scim, rt, monkeypatch):
    def failing(*_args, **_kwargs):
        raise RuntimeError("a second transaction was attempted")

    monkeypatch.setattr(users, "disable", failing)
    created = create(client, scim, active=False)
    user, _ = hub_user(rt)
    assert created["active"] is False and user.disabled_at is not None and user.disabled_by == "provisioning:contoso"
    with rt.db.session() as session:
        disabled = session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.disable_user")).one()
    assert disabled.details["via"] == "scim" and disabled.subject_user_id == user.id


def test_an_inactive_push_of_an_existing_hub_user_goes_through_the_disable_path(client, scim, rt, monkeypatch):
    created = create(client, scim)
    assert call(client, scim, "DELETE", f"/Users/{created['id']}").status_code == 204
    user, _ = hub_user(rt)
    users.enable(rt.db, rt.audit, Actor(None, "cli"), user.id)
    seen, real_disable_in = [], users.disable_in
    monkeypatch.setattr(users, "disable_in", lambda *args: seen.append(args[3].id) or real_disable_in(*args))
    create(client, scim, active=False)  # adopts the hub user, who may hold sessions and tokens to cut off
    assert seen == [user.id] and hub_user(rt)[0].disabled_by == "provisioning:contoso"


def test_a_failed_delete_leaves_no_half_state_and_its_retry_succeeds(client, scim, rt, monkeypatch):
    from hub.actions import provisioning

    created = create(client, scim)
    group = call(client, scim, "POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Hub Admins", "members": [{"value": created["id"]}]})
    real_sync = provisioning.sync_roles

    def failing(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(provisioning, "sync_roles", failing)
    with pytest.raises(RuntimeError):
        provisioning.delete_user(rt.db, rt.audit, provisioning.Directory("contoso", str, "t", {"Hub Admins": "admin"}), created["id"])
    assert hub_user(rt)[0].disabled_at is None  # not disabled while the directory still provisions them
    assert call(client, scim, "GET", f"/Users/{created['id']}").status_code == 200
    monkeypatch.setattr(provisioning, "sync_roles", real_sync)
    assert call(client, scim, "DELETE", f"/Users/{created['id']}").status_code == 204
    user, roles = hub_user(rt)
    assert user.disabled_by == "provisioning:contoso" and roles == []
    assert call(client, scim, "GET", f"/Groups/{group.get_json()['id']}").get_json().get("members") is None


def test_an_address_the_directory_changes_is_no_longer_verified(client, scim, rt, idp):
    """The provider's sign-in verified the address it sent; a different one pushed over SCIM is the
    directory's word only, so it must not count as verified (the token API and ID tokens trust it)."""
    from tests.conftest import callback_path, start_signin

    idp.users["bob"].email_verified = True  # the provider vouches for bob@example.test
    created = create(client, scim, oid="sub-bob", user_name="bob@contoso.com")
    client.get(callback_path(idp.authorize(start_signin(client, provider="contoso"), "bob")))

    def account():
        with rt.db.session() as session:
            return session.scalar(select(LinkedAccount).where(LinkedAccount.subject == "sub-bob"))

    signed_in = account()
    assert signed_in.email_verified is True
    moved = call(client, scim, "PUT", f"/Users/{created['id']}", entra_user(oid="sub-bob", user_name="bob@elsewhere.example.com"))
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert account().email == "bob@elsewhere.example.com" and account().email_verified is False


def test_one_directory_never_lifts_another_directorys_disable(client, scim, rt, hub_cli):
    """A person provisioned by two directories: the one that deprovisioned them is the only one
    whose `active: true` re-enables them; the other's routine push leaves them disabled."""
    from hub.core.db import write_transaction

    created = create(client, scim)
    user, _ = hub_user(rt)
    with write_transaction(rt.db) as session:  # the same person, known to the second directory too
        session.add(LinkedAccount(provider_id="fabrikam", subject=OID, issuer="", user_id=user.id, roles=[]))
    other = json.loads(hub_cli("scim", "token", "fabrikam", "--json").output)
    assert call(client, other, "POST", "/Users", entra_user()).status_code == 201
    deprovisioned = call(client, scim, "PATCH", f"/Users/{created['id']}", entra_patch({"op": "Replace", "path": "active", "value": "False"}))
    assert deprovisioned.status_code == 200 and hub_user(rt)[0].disabled_by == "provisioning:contoso"
    listed = call(client, other, "GET", f'/Users?filter=externalId eq "{OID}"').get_json()["Resources"][0]
    assert call(client, other, "PUT", f"/Users/{listed['id']}", entra_user()).status_code == 200
    assert hub_user(rt)[0].disabled_at is not None  # fabrikam's routine push does not undo contoso's
    assert call(client, scim, "PUT", f"/Users/{created['id']}", entra_user()).status_code == 200
    assert hub_user(rt)[0].disabled_at is None


def _database_failure(*_args, **_kwargs):
    from sqlalchemy.exc import OperationalError

    raise OperationalError("INSERT INTO audit_pending ...", {}, Exception("server closed the connection unexpectedly"))


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("failing", ["disable", "audit"])
def test_a_deprovisioning_that_fails_inside_changes_neither_resource_nor_user(client, scim, rt, monkeypatch, method, failing):
    """`active: false` and the disable are one transaction: when the disable (or the audit append
    of the disable event) fails, the resource still says active and the person is still enabled,
    the answer is an RFC 7644 error to retry, and the retry does it all."""
    created = create(client, scim)
    path = f"/Users/{created['id']}"
    if failing == "disable":
        monkeypatch.setattr(users, "disable_in", _database_failure)
    else:
        real_record = rt.audit.record
        monkeypatch.setattr(rt.audit, "record", lambda session, type, *a, **k: _database_failure() if type == "admin.disable_user" else real_record(session, type, *a, **k))
    body = entra_patch({"op": "Replace", "path": "active", "value": "False"}) if method == "PATCH" else entra_user(active=False)
    response = call(client, scim, method, path, body)
    assert response.status_code == 503 and response.content_type == "application/scim+json"
    error = response.get_json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and error["status"] == "503"
    assert call(client, scim, "GET", path).get_json()["active"] is True
    assert hub_user(rt)[0].disabled_at is None
    monkeypatch.undo()
    response = call(client, scim, method, path, body)
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert hub_user(rt)[0].disabled_by == "provisioning:contoso"


def test_a_failed_reprovisioning_leaves_the_resource_inactive(client, scim, rt, monkeypatch):
    created = create(client, scim, active=False)
    monkeypatch.setattr(users, "enable_in", _database_failure)
    response = call(client, scim, "PATCH", f"/Users/{created['id']}", entra_patch({"op": "Replace", "path": "active", "value": "True"}))
    assert response.status_code == 503
    assert call(client, scim, "GET", f"/Users/{created['id']}").get_json()["active"] is False
    assert hub_user(rt)[0].disabled_at is not None
    with rt.db.session() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.enable_user")).all() == []


def test_the_provider_revokes_stored_tokens_before_the_deprovisioning_transaction(client, scim, rt):
    """A user holding stored upstream tokens: the provider is asked to revoke them with no
    transaction open, then the PATCH and the disable commit together, the answer in the event."""
    from hub.actions import provisioning
    from hub.core.db import write_transaction
    from hub.core.models import ProvisionedUser, TokenSet

    created = create(client, scim)
    with write_transaction(rt.db) as session:
        account = session.scalar(select(LinkedAccount).where(LinkedAccount.subject == OID))
        session.add(TokenSet(linked_account_id=account.id, key_id="k", ciphertext=b"sealed"))
        account_id = account.id
    asked = []

    def revoke(linked_account_id, provider_id):
        with rt.db.session() as session:  # the resource is not changed yet: the transaction comes after
            asked.append((linked_account_id, provider_id, session.get(ProvisionedUser, created["id"]).active))
        return "revoked"

    directory = provisioning.Directory("contoso", str, "t", revoke_upstream=revoke, actor=Actor(None, "scim", directory="contoso"))
    user = provisioning.ScimUser.model_validate({**entra_user(active=False), "id": created["id"]})
    provisioning.replace_user(rt.db, rt.audit, directory, created["id"], user)
    assert asked == [(account_id, "contoso", True)]
    with rt.db.session() as session:
        disabled = session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.disable_user")).one()
        assert session.scalars(select(TokenSet)).all() == []
        assert session.get(ProvisionedUser, created["id"]).active is False
    assert disabled.details["provider_revocation"] == {str(account_id): "revoked"} and disabled.details["deleted_upstream_token_count"] == 1
    assert disabled.details["via"] == "scim" and hub_user(rt)[0].disabled_by == "provisioning:contoso"


def test_a_user_reads_the_same_from_its_write_its_get_and_the_listing(client, scim):
    """Write answers render the stored resource without validating it again; the listing renders
    through the models: both must give the same document."""
    created = create(client, scim)
    patched = call(client, scim, "PATCH", f"/Users/{created['id']}", entra_patch({"op": "Replace", "value": {"displayName": "Adele V."}})).get_json()
    got = call(client, scim, "GET", f"/Users/{created['id']}").get_json()
    listed = call(client, scim, "GET", f'/Users?filter=externalId eq "{OID}"').get_json()["Resources"][0]
    assert patched == got == listed and got["meta"]["version"] == 'W/"2"' and got["displayName"] == "Adele V."
    assert {k: v for k, v in created.items() if k not in {"meta", "displayName"}} == {k: v for k, v in got.items() if k not in {"meta", "displayName"}}
