"""The Entra emulator as the identity provider of the hub's conformance kit, for any provider
type that can talk to it (`entra`, and `oidc` with the emulator as a plain OpenID provider).

Imported by tests only: hub.testing.conformance needs pytest. A subclass names the plugin and
says how to configure it (`provider_table`).
"""

from __future__ import annotations

import ssl
from pathlib import Path
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
        self.logins = {user: user for user in self.users}
        """Each person's current user principal name (a rename changes it)."""

    account_states = ()
    """Entra refuses a disabled account itself (AADSTS50057, an `error=` answer the kit checks
    with `deny`): the provider never sees an account state."""
    endpoints: ClassVar[dict[str, str]] = {"token": "token", "profile": "graph"}
    """The kit's endpoint names -> the emulator's (Entra has no RFC 7009 revocation endpoint)."""

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        self.emulator.auto_sign_in = self.logins[user]
        response = requests.get(authorization_url, allow_redirects=False, timeout=10, verify=self.emulator.browser_verify)
        assert response.status_code == 302, response.text[:300]
        return query_of(response.headers["Location"])

    def token_calls(self) -> int:
        return self.emulator.requests["token"]

    def misbehave(self, kind: str) -> bool:
        name, options = self.misbehaviours[kind]
        self.emulator.misbehave(name, **options)
        return True

    def misbehave_at(self, endpoint: str, kind: str) -> bool:
        where = self.endpoints.get(endpoint)
        if where is None:
            return False
        if kind == "server_error":
            self.emulator.misbehave("http_error", endpoint=where, status=502, html=True)
        elif kind == "timeout":
            self.emulator.misbehave("slow", endpoint=where, seconds=1.2)
        elif kind in {"html", "invalid_json", "empty"}:
            self.emulator.misbehave("canned", endpoint=where, kind=kind)
        else:
            return False
        return True

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        self.emulator.misbehave("authorize_error", error="access_denied")
        return self.approve(authorization_url, user)

    def revocation_calls(self) -> int | None:
        return 0  # no revocation endpoint at Entra: a provider revoking there makes no call

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: Path) -> bool:
        self.emulator.serve_tls(context, str(browser_bundle))
        return True

    def change_email(self, user: str, email: str) -> bool:
        self.emulator.change_user(self.logins[user], mail=email)
        return True

    def rename(self, user: str, username: str) -> bool:
        renamed = f"{username}@{self.logins[user].partition('@')[2]}"
        self.emulator.change_user(self.logins[user], email=renamed)
        self.logins[user] = renamed
        return True

    def unverify_email(self, user: str) -> bool:
        self.emulator.misbehave("email_domain_unverified")
        return True

    def expected_profile(self, user: str) -> dict[str, Any]:
        return {"display_name": "Alice Adams", "email": "alice@contoso.example"} if user.startswith("alice") else {}
