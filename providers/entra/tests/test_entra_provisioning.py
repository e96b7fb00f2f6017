"""SCIM provisioning's subject: the object id Entra pushes as externalId forms the very subject
Entra's sign-in produces (tid:oid), so a provisioned user is the one the person lands on."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import ConfigError
from hub_entra.testing import OID, FakeEntra, callback


def test_the_directory_id_gives_the_subject_sign_in_produces(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token())
    provider = make_provider()
    signed_in = provider.complete_sign_in(callback()).identity.subject
    assert provider.subject_for_directory_id(OID.upper()) == signed_in


def test_a_provider_without_its_tenant_guid_cannot_provision(make_provider: Any) -> None:
    with pytest.raises(ConfigError, match="tenant"):
        make_provider(tenant="organizations").subject_for_directory_id(OID)


def test_an_external_id_that_is_not_an_object_id_is_refused(make_provider: Any) -> None:
    with pytest.raises(ValueError, match="objectId"):
        make_provider().subject_for_directory_id("adele@contoso.com")
