"""The conformance kit catches the mistakes an outsider made on purpose (issue 10): a reference
plugin (tests/kitplugin.py) passes the whole kit against the generic fake server, and each
deliberately broken copy of it fails the kit check named for its mistake.

Also: the fake server is generic enough for an OpenID Connect plugin (the bundled `oidc`
plugin runs the kit against it), and through a real hub a refused account is audited with
its subject.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

import hub_oidc
from hub.core.models import AuditEvent
from hub.errors import ConfigError, TokenRejected
from hub.oidc import subject_from
from hub.provider import Identity, Profile
from hub.testing.app import callback_path, hub_app, start_sign_in
from hub.testing.authserver import FakeAuthorizationServer
from hub.testing.conformance import FakeServerAdapter, ProviderConformance, build_provider
from tests import kitplugin
from tests.kitplugin import KitProvider, gitlab_profile


def kit_server() -> FakeAuthorizationServer:
    return FakeAuthorizationServer(openid=False, profile_path="/api/v4/user", profile=gitlab_profile, slow_seconds=1.2)


class KitAdapter(FakeServerAdapter):
    plugin, plugin_name = kitplugin, "kitlab"

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        return {"type": "kitlab", "base_url": self.server.url, "client_id": self.server.client_id,
                "client_secret": self.server.client_secret}  # fmt: skip


class TestReferencePluginConformance(ProviderConformance):
    """The whole kit, every optional check enabled, passes for the reference plugin."""

    @pytest.fixture
    def adapter(self) -> Iterator[KitAdapter]:
        with kit_server() as server:
            yield KitAdapter(server)


class OidcOnFakeServerAdapter(FakeServerAdapter):
    plugin, plugin_name = hub_oidc, "oidc"

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        return {"type": "oidc", "issuer": self.server.issuer, "client_id": self.server.client_id,
                "client_secret": self.server.client_secret, "userinfo": True}  # fmt: skip

    account_states = ()  # OpenID Connect has no standard account-state claim

    def rename(self, user: str, username: str) -> bool:
        self.server.rename(user, username)
        return True


class TestOidcPluginOnTheFakeServer(ProviderConformance):
    """The fake server's OpenID Connect side (discovery, JWKS, ID tokens, RFC 9207 `iss`) is
    what the bundled generic `oidc` plugin expects of a real provider."""

    @pytest.fixture
    def adapter(self) -> Iterator[OidcOnFakeServerAdapter]:
        with FakeAuthorizationServer(openid=True, slow_seconds=1.2) as server:
            yield OidcOnFakeServerAdapter(server)


# --- the deliberate mistakes --------------------------------------------------------------------


class IntegerSubject(KitProvider):
    def identity_from_profile(self, profile: Any) -> Identity:
        return Identity(subject=profile["id"], issuer=self.config.base_url)


class UsernameAsSubject(KitProvider):
    def identity_from_profile(self, profile: Any) -> Identity:
        return Identity(subject=subject_from(profile["username"], "KitLab"), issuer=self.config.base_url)


class BlockedAccepted(KitProvider):
    def identity_from_profile(self, profile: Any) -> Identity:
        return Identity(subject=subject_from(profile.get("id"), "KitLab"), issuer=self.config.base_url)


class AlwaysVerified(KitProvider):
    def profile_from(self, profile: Any, access_token: str) -> Profile:
        return Profile(display_name=profile.get("name"), email=profile.get("email"), email_verified=True)


class ProfileOutageAsTokenError(KitProvider):
    def fetch_profile(self, access_token: str) -> Any:
        response = self.context.http.get(self.profile_endpoint(), headers={"Authorization": f"Bearer {access_token}"})
        if response.status_code != 200:
            raise TokenRejected(f"KitLab refused the token (HTTP {response.status_code}).")
        return response.json()


class UnguardedProfileJson(KitProvider):
    def fetch_profile(self, access_token: str) -> Any:
        return self.context.http.get(self.profile_endpoint(), headers={"Authorization": f"Bearer {access_token}"}).json()


class ProfileWithoutTheHubsTimeouts(KitProvider):
    def fetch_profile(self, access_token: str) -> Any:
        response = requests.get(self.profile_endpoint(), headers={"Authorization": f"Bearer {access_token}"})  # noqa: S113
        return response.json()


class SecretInSettingsError(KitProvider):
    def load_settings(self, settings: Any) -> Any:
        if not settings.get("base_url"):
            raise ConfigError(f"providers.{self.id}: base_url is missing from {dict(settings)}")
        return super().load_settings(settings)


class ErrorCallbackIgnored(KitProvider):
    def complete_sign_in(self, callback: Any) -> Any:
        response = self.token_client.exchange_code(callback.params.get("code", ""), self.redirect_uri, callback.code_verifier)
        return self.sign_in_result(response, callback)


class NetworkInInit(KitProvider):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context.http.get(f"{self.config.base_url}/api/v4/version")  # "check the server is there"


MISTAKES = [
    # (mistake, broken provider, the kit check that must fail, its parameter)
    ("integer subject", IntegerSubject, "test_the_subject_is_a_non_empty_string", None),
    ("username as subject", UsernameAsSubject, "test_a_new_username_keeps_the_subject", None),
    ("blocked account accepted", BlockedAccepted, "test_a_refused_account_state_is_access_denied", None),
    ("email_verified always true", AlwaysVerified, "test_an_unverified_email_is_reported_unverified", None),
    ("profile 5xx raised as a token error", ProfileOutageAsTokenError, "test_profile_endpoint_outages_are_provider_unavailable", "server_error"),
    ("no handling around the profile request: HTML", UnguardedProfileJson, "test_profile_endpoint_outages_are_provider_unavailable", "html"),
    ("no handling around the profile request: timeout", ProfileWithoutTheHubsTimeouts, "test_profile_endpoint_outages_are_provider_unavailable", "timeout"),
    ("a secret in a settings error", SecretInSettingsError, "test_settings_errors_never_show_a_secret", None),
    ("error= callbacks ignored", ErrorCallbackIgnored, "test_an_error_callback_is_refused_without_a_token_call", None),
    ("network I/O in __init__", NetworkInInit, "test_building_a_provider_does_no_network_io", None),
]


def run_check(check: str, adapter: KitAdapter, kind: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Call one kit check the way pytest would, with the kit's own fixtures' values."""
    suite = ProviderConformance()
    method = getattr(suite, check)

    def build(**overrides: Any) -> Any:
        return build_provider(adapter, **overrides)

    arguments: dict[str, Any] = {"adapter": adapter}
    names = method.__code__.co_varnames[: method.__code__.co_argcount]
    if "provider" in names:
        arguments["provider"] = build()
    if "build" in names:
        arguments["build"] = build
    if "monkeypatch" in names:
        arguments["monkeypatch"] = monkeypatch
    if "kind" in names:
        arguments["kind"] = kind
    method(**arguments)


def adapter_for(server: FakeAuthorizationServer, provider_class: type[KitProvider]) -> KitAdapter:
    adapter = KitAdapter(server)
    adapter.plugin = types.SimpleNamespace(hub_api_version=1, hub_provider_types=lambda: [provider_class])  # type: ignore[assignment]
    return adapter


@pytest.mark.parametrize(("mistake", "broken", "check", "kind"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_the_kit_fails_a_provider_with_the_mistake(mistake, broken, check, kind, monkeypatch):
    with kit_server() as server, pytest.raises((AssertionError, pytest.fail.Exception)):
        run_check(check, adapter_for(server, broken), kind, monkeypatch)


@pytest.mark.parametrize(("mistake", "broken", "check", "kind"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_the_same_check_passes_the_reference_provider(mistake, broken, check, kind, monkeypatch):
    with kit_server() as server:
        run_check(check, adapter_for(server, KitProvider), kind, monkeypatch)


def test_the_ten_mistakes_are_ten_different_checks_or_kinds():
    assert len({(check, kind) for _, _, check, kind in MISTAKES}) == len(MISTAKES) == 10


# --- through a real hub: the refused subject and the first sign-in are audited --------------------


def test_a_refused_account_is_audited_with_its_subject_and_a_first_sign_in_differs_from_a_return(tmp_path):
    with kit_server() as server:
        table = {**KitAdapter(server).provider_table(""), "name": "KitLab"}
        app = hub_app(tmp_path / "hub", {"kit": table}, [("kitlab", kitplugin)])
        try:
            for _ in range(2):
                client = app.test_client()
                params = server.approve(start_sign_in(client, "kit"), "alice")
                assert client.get(callback_path("kit", params)).status_code == 302
            server.block("alice")
            client = app.test_client()
            params = server.approve(start_sign_in(client, "kit"), "alice")
            refused = client.get(callback_path("kit", params))
            assert refused.status_code == 403 and "account is blocked" in refused.get_data(as_text=True)
            with app.extensions["hub"].db.session() as session:
                events = session.scalars(select(AuditEvent).where(AuditEvent.type == "signin").order_by(AuditEvent.seq)).all()
            assert [(e.outcome, e.details.get("first_sign_in"), e.details.get("provider_subject")) for e in events] == [
                ("success", True, None),
                ("success", False, None),
                ("failure", None, "1001"),
            ]
            assert events[2].details["reason"] == "account_blocked"
        finally:
            app.extensions["hub"].close()
