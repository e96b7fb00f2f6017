"""The oidc provider type against the hub's provider conformance kit, with the Entra emulator
used as a plain OpenID Connect provider (issuer `{base_url}/{tenant}/v2.0`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import hub_oidc
from hub.testing.conformance import ProviderConformance
from hub_entra.emulator import EntraEmulator
from hub_entra.emulator.conformance import KIT_MISBEHAVIOURS, EmulatorAdapter
from hub_entra.emulator.directory import CONTOSO_TENANT_ID


class EmulatorAsOidcAdapter(EmulatorAdapter):
    plugin = hub_oidc
    plugin_name = "oidc"
    misbehaviours = {**KIT_MISBEHAVIOURS, "server_error": ("http_error", {"endpoint": "token", "status": 502})}
    fetches_profile = False  # the oidc type reads the ID token; this table turns userinfo off

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        self.emulator.add_redirect_uri(redirect_uri)
        entra = self.emulator.provider_settings(CONTOSO_TENANT_ID)
        return {
            "type": "oidc",
            "issuer": self.emulator.issuer(CONTOSO_TENANT_ID),
            "client_id": entra["client_id"],
            "client_secret": entra["client_secret"],
            "scopes": ["openid", "profile", "email", "offline_access"],
        }


class TestOidcConformance(ProviderConformance):
    @pytest.fixture
    def adapter(self) -> Iterator[EmulatorAsOidcAdapter]:
        with EntraEmulator() as emulator:
            yield EmulatorAsOidcAdapter(emulator)
