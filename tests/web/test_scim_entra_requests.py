"""The requests Microsoft Entra's provisioning service sends (its SCIM documentation and
validator's shapes), each answered as RFC 7644 says: issue 19's "accept Entra's known shapes"
beyond the capitalised ops and string booleans test_scim.py covers."""

from __future__ import annotations

import json

import pytest

from tests.web.test_scim import ENTERPRISE, call, create, entra_patch

MANAGER = "26118915-6090-4610-87e4-49d8ca9f808d"


@pytest.fixture
def hub_config(hub_config):
    hub_config["providers"]["contoso"] = {
        "type": "fake", "name": "Contoso", "client_id": "hub", "client_secret": "fake-client-secret",
    }
    return hub_config


@pytest.fixture
def scim(hub_cli):
    return json.loads(hub_cli("scim", "token", "contoso", "--json").output)


@pytest.mark.parametrize(("operation", "expected"), [
    ({"op": "Add", "path": 'emails[type eq "work"].value', "value": "adele.new@contoso.com"},
     lambda user: [e["value"] for e in user["emails"]] == ["adele.new@contoso.com"]),
    ({"op": "Replace", "path": 'emails[type eq "work"].value', "value": "adele.new@contoso.com"},
     lambda user: [e["value"] for e in user["emails"]] == ["adele.new@contoso.com"]),
    ({"op": "Replace", "path": "name.familyName", "value": "Vance-Smith"},
     lambda user: user["name"]["familyName"] == "Vance-Smith"),
    ({"op": "Replace", "path": "title", "value": "Retail Manager"}, lambda user: user["title"] == "Retail Manager"),
    ({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": MANAGER},
     lambda user: user[ENTERPRISE]["manager"]["value"] == MANAGER),
    ({"op": "Add", "value": {"displayName": "Adele V.", "title": "Manager"}},
     lambda user: (user["displayName"], user["title"]) == ("Adele V.", "Manager")),
])
def test_each_attribute_patch_entra_sends_is_applied(client, scim, operation, expected):
    created = create(client, scim)
    response = call(client, scim, "PATCH", f"/Users/{created['id']}", entra_patch(operation))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert expected(response.get_json())
    assert expected(call(client, scim, "GET", f"/Users/{created['id']}").get_json())  # stored, not only echoed


def test_entra_sets_the_manager_by_a_bare_id_and_removes_it_by_path(client, scim):
    user = create(client, scim)
    added = call(client, scim, "PATCH", f"/Users/{user['id']}", entra_patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": MANAGER}))
    assert added.status_code == 200 and added.get_json()[ENTERPRISE]["manager"]["value"] == MANAGER
    removed = call(client, scim, "PATCH", f"/Users/{user['id']}", entra_patch({"op": "Remove", "path": f"{ENTERPRISE}:manager"}))
    assert removed.status_code == 200 and "manager" not in removed.get_json().get(ENTERPRISE, {})


def test_a_manager_that_is_not_an_id_is_still_refused(client, scim):
    created = create(client, scim)
    bad = entra_patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": 42})
    response = call(client, scim, "PATCH", f"/Users/{created['id']}", bad)
    assert response.status_code == 400 and response.get_json()["scimType"] == "invalidValue"


def test_entra_matching_queries_find_the_user_or_nobody(client, scim):
    created = create(client, scim)
    found = call(client, scim, "GET", '/Users?filter=userName eq "adele@contoso.com"').get_json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == created["id"]
    nobody = call(client, scim, "GET", '/Users?filter=userName eq "nobody@contoso.com"')
    assert nobody.status_code == 200 and nobody.get_json()["totalResults"] == 0 and nobody.get_json()["Resources"] == []


def test_groups_carry_meta_and_a_location_and_take_entras_member_patches(client, scim):
    user = create(client, scim)
    response = call(client, scim, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": "g1", "displayName": "Sales",
        "members": [], "meta": {"resourceType": "Group"},
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    group = response.get_json()
    assert response.headers["Location"] == group["meta"]["location"]
    assert group["meta"]["location"].endswith(f"/scim/v2/contoso/Groups/{group['id']}")
    assert group["meta"]["resourceType"] == "Group" and group["meta"]["version"] == 'W/"1"'
    path = f"/Groups/{group['id']}"
    add = entra_patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": user["id"]}]})
    assert call(client, scim, "PATCH", path, add).status_code == 200
    rename = call(client, scim, "PATCH", path, entra_patch({"op": "Replace", "path": "displayName", "value": "Sales EMEA"}))
    assert rename.status_code == 200 and rename.get_json()["meta"]["version"] == 'W/"3"'
    assert [m["value"] for m in rename.get_json()["members"]] == [user["id"]]
    remove = entra_patch({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": user["id"]}]})
    assert "members" not in call(client, scim, "PATCH", path, remove).get_json()
    listing = call(client, scim, "GET", '/Groups?excludedAttributes=members&filter=displayName eq "Sales EMEA"').get_json()
    assert listing["totalResults"] == 1 and listing["Resources"][0]["meta"]["location"] == group["meta"]["location"]


def test_attributes_and_excluded_attributes_shape_what_comes_back(client, scim):
    user = create(client, scim)
    group = call(client, scim, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
        "members": [{"value": user["id"]}],
    }).get_json()
    assert group["members"]  # without a parameter, the whole group
    listed = call(client, scim, "GET", '/Groups?excludedAttributes=members&filter=displayName eq "Sales"').get_json()
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0] and listed["Resources"][0]["id"] == group["id"]
    one = call(client, scim, "GET", f"/Groups/{group['id']}?excludedAttributes=members").get_json()
    assert "members" not in one and one["displayName"] == "Sales"
    narrow = call(client, scim, "GET", f"/Users/{user['id']}?attributes=userName").get_json()
    assert narrow["userName"] == "adele@contoso.com" and narrow["id"] == user["id"] and "displayName" not in narrow
    users = call(client, scim, "GET", "/Users?attributes=userName").get_json()
    assert [set(r) - {"schemas", "id"} for r in users["Resources"]] == [{"userName"}]


@pytest.mark.parametrize("query", ["attributes=userName&excludedAttributes=emails", "attributes=%5B%5D", "excludedAttributes=a b"])
def test_malformed_attribute_parameters_are_400(client, scim, query):
    create(client, scim)
    response = call(client, scim, "GET", f"/Users?{query}")
    assert response.status_code == 400 and response.get_json()["scimType"] == "invalidValue"
