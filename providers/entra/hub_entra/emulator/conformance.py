"""The Entra emulator as the identity provider of the hub's conformance kit, for any provider
type that can talk to it (`entra`, and `oidc` with the emulator as a plain OpenID provider).

Imported by tests only: hub.testing.conformance needs pytest. A subclass names the plugin and
says how to configure it (`provider_table`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from hub.testing.app import query_of
from hub.testing.conformance import ConformanceAdapter
from hub_entra.emulator.server import EntraEmulator

KIT_MISBEHAVIOURS: dict[str, tuple[str, dict[str, Any]]] = {
    "wrong_nonce": ("wrong_nonce", {}),
    "wrong_issuer": ("wrong_issuer", {}),
    "wrong_audience": ("wrong_audience", {}),
    "server_error": ("http_error", {"endpoint": "token", "status": 500}),
    "timeout": ("slow", {"endpoint": "token", "seconds": 1.2}),
}
"""The kit's misbehaviour names -> the emulator's."""


class EmulatorAdapter(ConformanceAdapter):
    """Signs people in at the emulator, counts its token calls, makes it misbehave."""

    users: tuple[str, str] = ("alice@contoso.example", "bob@contoso.example")
    misbehaviours: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = KIT_MISBEHAVIOURS

    def __init__(self, emulator: EntraEmulator) -> None:
        self.emulator = emulator

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        self.emulator.auto_sign_in = user
        response = requests.get(authorization_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text[:300]
        return query_of(response.headers["Location"])

    def token_calls(self) -> int:
        return self.emulator.requests["token"]

    def misbehave(self, kind: str) -> bool:
        name, options = self.misbehaviours[kind]
        self.emulator.misbehave(name, **options)
        return True

    def unverify_email(self, user: str) -> bool:
        self.emulator.misbehave("email_domain_unverified")
        return True

    def expected_profile(self, user: str) -> dict[str, Any]:
        return {"display_name": "Alice Adams", "email": "alice@contoso.example"} if user.startswith("alice") else {}
