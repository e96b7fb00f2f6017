"""The Entra provider type against the hub's provider conformance kit, with the Entra emulator
as its IdP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import hub_entra
from hub.testing.conformance import ProviderConformance
from hub_entra.emulator import EntraEmulator
from hub_entra.emulator.conformance import EmulatorAdapter
from hub_entra.emulator.directory import CONTOSO_TENANT_ID


class EntraAdapter(EmulatorAdapter):
    plugin = hub_entra
    plugin_name = "entra"
    single_use_refresh_tokens = False  # Entra keeps the old refresh token valid after rotation

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        self.emulator.add_redirect_uri(redirect_uri)
        return {"type": "entra", **self.emulator.provider_settings(CONTOSO_TENANT_ID)}


class TestEntraConformance(ProviderConformance):
    @pytest.fixture
    def adapter(self) -> Iterator[EntraAdapter]:
        with EntraEmulator() as emulator:
            yield EntraAdapter(emulator)
