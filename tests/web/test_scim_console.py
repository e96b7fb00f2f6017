"""The console's SCIM tokens page: create (shown once), list with last use, revoke with a confirmation."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from sqlalchemy import select

from hub.core.models import AuditEvent, LinkedAccount, ScimToken
from tests.conftest import csrf_of


def test_create_list_use_and_revoke_a_token_from_the_console(admin, client, rt):
    csrf = csrf_of(admin, "/admin/scim")
    page = admin.post("/admin/scim", data={"csrf_token": csrf, "provider_id": "fake", "name": "Acme sync"})
    assert page.status_code == 200 and "no-store" in page.headers.get("Cache-Control", "")
    html = page.get_data(as_text=True)
    token = re.search(r'id="scim-token">(scim_[^<]+)<', html).group(1)
    assert "/scim/v2/fake" in html
    assert client.get("/scim/v2/fake/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listing = admin.get("/admin/scim").get_data(as_text=True)
    row = listing.split("Acme sync", 1)[1].split("</tr>", 1)[0]
    assert token not in listing and "never" not in row and "fake" in row
    with rt.db.session() as session:
        token_id = session.scalars(select(ScimToken)).one().id
    assert admin.post(f"/admin/scim/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 409
    assert admin.post(f"/admin/scim/{token_id}/revoke", data={"csrf_token": csrf, "confirm": "yes"}).status_code == 303
    assert client.get("/scim/v2/fake/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with rt.db.session() as session:
        events = [(e.type, e.outcome) for e in session.scalars(select(AuditEvent).where(AuditEvent.type.like("scim.token%")))]
    assert events == [("scim.token_create", "success"), ("scim.token_revoke", "failure"), ("scim.token_revoke", "success")]


def test_a_token_for_an_unknown_provider_is_refused(admin, rt):
    csrf = csrf_of(admin, "/admin/scim")
    assert admin.post("/admin/scim", data={"csrf_token": csrf, "provider_id": "nope"}).status_code == 409
    with rt.db.session() as session:
        assert session.scalars(select(ScimToken)).all() == []


def test_the_user_page_says_whether_provisioning_manages_the_user(admin, client, rt, hub_cli):
    created = json.loads(hub_cli("scim", "token", "fake", "--json").output)
    headers = {"Authorization": f"Bearer {created['token']}", "Content-Type": "application/scim+json"}
    base = urlsplit(created["url"]).path
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "sub-carol",
        "userName": "carol@contoso.example", "active": True, "displayName": "Carol",
    }
    resource = client.post(f"{base}/Users", headers=headers, data=json.dumps(body)).get_json()
    with rt.db.session() as session:
        carol = session.scalar(select(LinkedAccount.user_id).where(LinkedAccount.subject == "sub-carol"))
    page = admin.get(f"/admin/users/{carol}").get_data(as_text=True)
    assert "managed by" in page and "Fake IdP" in page and "carol@contoso.example" in page and "active there" in page
    assert ">provisioned</span>" in page
    own = admin.get("/admin/users/1").get_data(as_text=True)
    assert "not managed: no directory provisions this user" in own and ">provisioned</span>" not in own
    assert "provisions Carol" in admin.get(f"/admin/users/{carol}/confirm/disable_user").get_data(as_text=True)

    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert client.patch(f"{base}/Users/{resource['id']}", headers=headers, data=json.dumps(patch)).status_code == 200
    page = admin.get(f"/admin/users/{carol}").get_data(as_text=True)
    assert "by Fake IdP&#39;s directory (SCIM provisioning)" in page and "inactive there" in page
    confirm = admin.get(f"/admin/users/{carol}/confirm/enable_user").get_data(as_text=True)
    assert "still lists them as inactive" in confirm


def test_an_administrators_disable_is_named_as_such(admin, client, rt, idp):
    from tests.conftest import sign_in

    sign_in(client, idp, "bob")
    answer = admin.post("/admin/users/2/disable_user", data={"csrf_token": csrf_of(admin, "/account"), "confirm": "yes"})
    assert answer.status_code == 303
    assert "by an administrator" in admin.get("/admin/users/2").get_data(as_text=True)


def test_a_scim_leaver_is_listed_with_the_directorys_provider(admin, client, rt, hub_cli):
    created = json.loads(hub_cli("scim", "token", "fake", "--json").output)
    headers = {"Authorization": f"Bearer {created['token']}", "Content-Type": "application/scim+json"}
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "sub-dave", "userName": "dave", "active": False}
    assert client.post(f"{urlsplit(created['url']).path}/Users", headers=headers, data=json.dumps(body)).status_code == 201
    with rt.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.disable_user")).one()
    assert event.provider_id == "fake" and event.details["via"] == "scim"
    row = re.search(r"<tr>(?:(?!</tr>).)*disabled by provisioning(?:(?!</tr>).)*</tr>", admin.get("/admin/leavers").get_data(as_text=True), re.S)
    assert row is not None and "<td>fake</td>" in row.group(0)
