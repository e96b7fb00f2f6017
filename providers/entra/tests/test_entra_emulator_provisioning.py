"""The emulator's provisioning service (a SCIM 2.0 client, as Entra's): the requests it sends are
Entra's shapes (docs/provisioning.md), it matches an existing user after a 409 as Entra does, and
the people page's buttons push a person and show the application's answer, never a 500."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from hub_entra.emulator import CONTOSO_TENANT_ID, EntraEmulator
from hub_entra.emulator.provisioning import ProvisioningService

SCIM_URL = "https://app.test/scim/v2/entra"
TOKEN = "scim_demo_secret-token-value"  # noqa: S105 - a test value
ALICE = "alice@contoso.example"
ALICE_OID = "a11ce000-0000-4000-8000-00000000a11c"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def alice(emulator: EntraEmulator):
    return emulator.find_user(ALICE)[1]


def scim_error(status: int, scim_type: str | None, detail: str) -> dict:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status), "detail": detail}
    return {**body, "scimType": scim_type} if scim_type else body


def sent(call: responses.Call) -> dict:
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/scim+json"
    return json.loads(call.request.body)


@pytest.fixture
def service() -> ProvisioningService:
    return ProvisioningService(SCIM_URL, TOKEN, CONTOSO_TENANT_ID)


def test_provisioning_posts_entras_user_and_remembers_the_scim_id(rsps, emulator, service):
    rsps.post(f"{SCIM_URL}/Users", json={"id": "scim-1", "externalId": ALICE_OID}, status=201)
    outcome = service.provision(alice(emulator))
    assert outcome.ok and outcome.status == 201 and service.scim_ids == {ALICE_OID: "scim-1"}
    assert sent(rsps.calls[0]) == {
        "schemas": [CORE, ENTERPRISE],
        "externalId": ALICE_OID,
        "userName": ALICE,
        "active": True,
        "displayName": "Alice Adams",
        "emails": [{"primary": True, "type": "work", "value": ALICE}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Alice Adams", "familyName": "Adams", "givenName": "Alice"},
        "roles": [],
        "title": "IT Administrator",
    }


def test_deprovisioning_a_pushed_person_is_entras_patch_with_the_string_false(rsps, emulator, service):
    rsps.post(f"{SCIM_URL}/Users", json={"id": "scim-1"}, status=201)
    rsps.patch(f"{SCIM_URL}/Users/scim-1", json={"id": "scim-1", "active": False}, status=200)
    service.provision(alice(emulator))
    outcome = service.deprovision(alice(emulator))
    assert outcome.ok and str(outcome) == "deprovision: HTTP 200 (inactive)"
    assert [call.request.method for call in rsps.calls] == ["POST", "PATCH"]
    assert sent(rsps.calls[1]) == {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    service.provision(alice(emulator))  # re-provisioning: the same PATCH with "True", no second POST
    assert [call.request.method for call in rsps.calls] == ["POST", "PATCH", "PATCH"]
    assert sent(rsps.calls[2])["Operations"] == [{"op": "Replace", "path": "active", "value": "True"}]


def test_a_409_is_matched_by_externalid_as_entra_does_then_patched(rsps, emulator, service):
    rsps.post(f"{SCIM_URL}/Users", json=scim_error(409, "uniqueness", "externalId taken"), status=409)
    listing = {"totalResults": 1, "Resources": [{"id": "scim-7", "externalId": ALICE_OID}]}
    rsps.get(f"{SCIM_URL}/Users", json=listing, match=[responses.matchers.query_param_matcher({"filter": f'externalId eq "{ALICE_OID}"'})])
    rsps.patch(f"{SCIM_URL}/Users/scim-7", json={"id": "scim-7"}, status=200)
    outcome = service.deprovision(alice(emulator))
    assert outcome.ok and service.scim_ids[ALICE_OID] == "scim-7"
    assert sent(rsps.calls[0])["active"] is False  # a leaver never pushed before is created inactive
    assert rsps.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent(rsps.calls[2])["Operations"][0]["value"] == "False"


def test_refusals_and_outages_become_the_persons_outcome_without_the_token(rsps, emulator, service):
    rsps.post(f"{SCIM_URL}/Users", json=scim_error(401, None, "The bearer token is not valid."), status=401)
    outcome = service.provision(alice(emulator))
    assert not outcome.ok and outcome.status == 401 and "not valid" in outcome.detail
    assert service.outcome(ALICE_OID) == outcome and ALICE_OID not in service.scim_ids
    rsps.replace(responses.POST, f"{SCIM_URL}/Users", body=requests.ConnectionError("refused"))
    outcome = service.provision(alice(emulator))
    assert outcome.status is None and "could not reach" in str(outcome)
    assert TOKEN not in str(outcome) and TOKEN not in repr(service)


def test_without_scim_the_people_page_has_no_scim_buttons(emulator):
    page = requests.get(f"{emulator.base_url}/_emulator/people", timeout=10).text
    assert "Disable" in page and "Deprovision (SCIM)" not in page and "Provision (SCIM)" not in page
    refused = requests.post(f"{emulator.base_url}/_emulator/scim-user", data={"email": ALICE, "push": "deprovision"}, timeout=10)
    assert refused.status_code == 404 and ALICE_OID not in emulator.disabled_oids


def test_the_deprovision_button_disables_the_person_and_pushes_them(rsps, emulator):
    rsps.add_passthru(emulator.base_url)
    rsps.post(f"{SCIM_URL}/Users", json={"id": "scim-1"}, status=201)
    rsps.patch(f"{SCIM_URL}/Users/scim-1", json={"id": "scim-1"}, status=200)
    emulator.connect_scim(SCIM_URL, TOKEN, CONTOSO_TENANT_ID)
    page = requests.get(f"{emulator.base_url}/_emulator/people", timeout=10).text
    assert page.count("Deprovision (SCIM)</button>") == 3  # Contoso's people only, not Fabrikam's
    assert TOKEN not in page
    pressed = requests.post(f"{emulator.base_url}/_emulator/scim-user", data={"email": ALICE, "push": "deprovision"}, timeout=10)
    assert pressed.status_code == 200 and "deprovision: HTTP 201" in pressed.text
    assert ALICE_OID in emulator.disabled_oids
    pressed = requests.post(f"{emulator.base_url}/_emulator/scim-user", data={"email": ALICE, "push": "provision"}, timeout=10)
    assert "provision: HTTP 200 (active)" in pressed.text and ALICE_OID not in emulator.disabled_oids
    assert emulator.deprovision("carol@fabrikam.example") is None  # another tenant: not provisioned here
    assert emulator.disabled_oids == set()


def test_an_unreachable_application_is_shown_on_the_page_not_a_500(emulator):
    emulator.connect_scim("http://127.0.0.1:9/scim/v2/entra", TOKEN)
    pressed = requests.post(f"{emulator.base_url}/_emulator/scim-user", data={"email": ALICE, "push": "deprovision"}, timeout=30)
    assert pressed.status_code == 200 and "could not reach the application" in pressed.text
    assert ALICE_OID in emulator.disabled_oids  # the directory disabled them all the same
