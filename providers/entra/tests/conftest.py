"""Fixtures for the Entra provider's tests; the helpers live in hub_entra.testing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from hub_entra import EntraProvider
from hub_entra.emulator import EntraEmulator
from hub_entra.testing import REDIRECT_URI, Clock, FakeEntra, entra_settings, make_context


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def entra(rsps: responses.RequestsMock, clock: Clock) -> FakeEntra:
    return FakeEntra(rsps, clock)


@pytest.fixture
def make_provider(clock: Clock) -> Any:
    def build(**overrides: Any) -> EntraProvider:
        return EntraProvider("contoso", "Contoso", entra_settings(**overrides), make_context(), clock=clock)

    return build


@pytest.fixture
def emulator() -> Iterator[EntraEmulator]:
    with EntraEmulator() as running:
        running.add_redirect_uri(REDIRECT_URI)
        yield running
