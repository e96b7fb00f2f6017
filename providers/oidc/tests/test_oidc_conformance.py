"""The oidc provider type against the hub's provider conformance kit, with the Entra emulator
used as a plain OpenID Connect provider (issuer `{base_url}/{tenant}/v2.0`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hub_oidc
import pytest
import requests
from hub_entra.emulator import EntraEmulator
from hub_entra.emulator.directory import CONTOSO_TENANT_ID

from hub.testing.app import query_of
from hub.testing.conformance import ConformanceAdapter, ProviderConformance

MISBEHAVIOURS = {
    "wrong_nonce": ("wrong_nonce", {}),
    "wrong_issuer": ("wrong_issuer", {}),
    "wrong_audience": ("wrong_audience", {}),
    "server_error": ("http_error", {"endpoint": "token", "status": 502}),
    "timeout": ("slow", {"endpoint": "token", "seconds": 1.2}),
}


class EmulatorAsOidcAdapter(ConformanceAdapter):
    plugin = hub_oidc
    plugin_name = "oidc"
    users = ("alice@contoso.example", "bob@contoso.example")

    def __init__(self, emulator: EntraEmulator) -> None:
        self.emulator = emulator

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

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        self.emulator.auto_sign_in = user
        response = requests.get(authorization_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:300]
        return query_of(response.headers["Location"])

    def token_calls(self) -> int:
        return self.emulator.requests["token"]

    def misbehave(self, kind: str) -> bool:
        name, options = MISBEHAVIOURS[kind]
        self.emulator.misbehave(name, **options)
        return True

    def expected_profile(self, user: str) -> dict[str, Any]:
        return {"display_name": "Alice Adams", "email": "alice@contoso.example"} if user.startswith("alice") else {}


class TestOidcConformance(ProviderConformance):
    @pytest.fixture
    def adapter(self) -> Iterator[EmulatorAsOidcAdapter]:
        with EntraEmulator() as emulator:
            yield EmulatorAsOidcAdapter(emulator)
