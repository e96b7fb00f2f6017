"""`hub.oidc` keeps every name a hub_api_version 1 plugin may import: the names of the old
single module, every name docs/plugins.md shows, and every name the bundled plugins import.
A v1 plugin's own `ClientAuth` subclass (only `apply`) still authenticates."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import responses

import hub.oidc
from hub.http import ProviderSession
from hub.oidc import ClientAuth, TokenClient

ROOT = Path(__file__).resolve().parents[2]

V1_NAMES = (
    "ALLOWED_ALGORITHMS", "ASSERTION_LIFETIME", "BACKCHANNEL_LOGOUT_EVENT", "CLIENT_ASSERTION_TYPE",
    "DEFAULT_CLOCK_SKEW", "DEFAULT_DISCOVERY_TTL", "DEFAULT_JWKS_COOLDOWN", "DEFAULT_JWKS_TTL",
    "GUID_PATTERN", "LOGOUT_TOKEN_TYPE", "ClientAuth", "ClientSecretBasic", "ClientSecretPost", "Clock",
    "DiscoveryCache", "IdTokenValidator", "JtiCache", "JwksCache", "LogoutTokenValidator",
    "OAuthErrorBody", "PrivateKeyJwt", "ProviderCodeFinder", "ProviderMetadata", "SigningKey",
    "TokenClient", "TokenResponse", "ValidatedIdToken", "ValidatedLogoutToken", "add_query",
    "authorization_url", "b64url", "base_url_setting", "check_authorization_response_issuer",
    "check_same_person", "check_userinfo_subject", "discovery_health", "exact_issuer",
    "fetch_userinfo", "is_guid", "no_provider_code", "parse_jwks", "parse_oauth_error",
    "read_json", "redact", "secret_client_auth",
)  # fmt: skip
"""Every public name of hub/oidc.py before it became a package (hub_api_version 1)."""


def documented_names() -> set[str]:
    """Names docs/plugins.md's code imports from hub.oidc or its prose names as hub.oidc's."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    names = set()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL):
        names |= imported_from_hub_oidc(block)
    shared = text.split("**Shared protocol code.**")[1].split("\n\n")[0]
    names |= {name for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", shared) if name[0].isupper() or "_" in name}
    return names - {"error_aliases"}


def imported_from_hub_oidc(source: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module == "hub.oidc"
        for alias in node.names
    }


def names_the_plugins_import() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "providers").rglob("*.py"):
        names |= imported_from_hub_oidc(path.read_text(encoding="utf-8"))
    return names


def test_the_docs_and_plugins_name_something_to_check() -> None:
    assert {"TokenClient", "OAuth2Provider", "OpenIdConnectProvider"} <= documented_names()
    assert {"OpenIdConnectProvider", "OAuth2Provider", "is_guid"} <= names_the_plugins_import()


@pytest.mark.parametrize("name", sorted(set(V1_NAMES) | documented_names() | names_the_plugins_import()))
def test_every_name_a_plugin_imports_is_still_in_hub_oidc(name: str) -> None:
    module = importlib.import_module("hub.oidc")
    assert getattr(module, name) is not None
    assert name in hub.oidc.__all__


def test_no_toolkit_module_is_over_about_400_lines() -> None:
    for path in (ROOT / "hub" / "oidc").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 420, path.name


class HeaderTokenAuth(ClientAuth):
    """What a v1 plugin may have written: its own client authentication, `apply` only."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.method = "custom"

    def apply(self, form: dict[str, str], headers: dict[str, str], token_endpoint: str) -> None:
        headers["X-Client-Proof"] = f"proof-for-{token_endpoint.rsplit('/', 1)[-1]}"
        form["audience"] = "api"


def test_a_v1_client_auth_with_only_apply_still_authenticates_token_requests() -> None:
    with responses.RequestsMock() as rsps:
        rsps.post("https://idp.example/token", json={"access_token": "at", "token_type": "Bearer"})
        client = TokenClient(ProviderSession(), lambda: "https://idp.example/token", HeaderTokenAuth("app-1"))
        assert client.exchange_code("code-1", "https://hub.example/cb", "v" * 43).access_token == "at"
        request = rsps.calls[0].request
    assert request.headers["X-Client-Proof"] == "proof-for-token"
    body = dict(pair.split("=", 1) for pair in request.body.split("&"))
    assert body["client_id"] == "app-1" and body["audience"] == "api" and body["code"] == "code-1"
    assert body["grant_type"] == "authorization_code" and "code_verifier" in body
