"""The console's SCIM tokens page: create (shown once), list with last use, revoke with a confirmation."""

from __future__ import annotations

import re

from sqlalchemy import select

from hub.core.models import AuditEvent, ScimToken
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
