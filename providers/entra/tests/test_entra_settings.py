"""Provider settings are checked at start with messages naming the setting; the plugin hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hub_entra
from hub import HUB_API_VERSION
from hub.errors import ConfigError
from hub_entra import EntraProvider
from hub_entra.testing import _KEY_POOL, CLIENT_ID, SECRET, TENANT, entra_settings, make_context


def build(**overrides: Any) -> EntraProvider:
    return EntraProvider("contoso", "Contoso", entra_settings(**overrides), make_context())


@pytest.mark.parametrize(
    ("overrides", "key", "text"),
    [
        ({"tenant": None}, "tenant", "required"),
        ({"tenant": "not a tenant!"}, "tenant", "GUID"),
        ({"client_id": "my-app"}, "client_id", "GUID"),
        ({"client_secret": None}, "client_secret", "required"),
        ({"client_auth_method": "none"}, "client_auth_method", "client_secret_basic"),
        ({"authority_host": "http://login.example.com"}, "authority_host", "https"),
        ({"authority_host": "https://login.example.com/?x=1"}, "authority_host", "plain"),
        ({"graph_base_url": 42}, "graph_base_url", "URL"),
        ({"scopes": [1]}, "scopes", "list"),
        ({"role_map": ["Hub.Admin"]}, "role_map", "map"),
        ({"clock_skew_seconds": "120"}, "clock_skew_seconds", "whole number"),
        ({"clock_skew_seconds": 9999}, "clock_skew_seconds", "600"),
        ({"tenant": "common"}, "allowed_tenants", '["*"]'),
        ({"tenant": "organizations", "allowed_tenants": []}, "allowed_tenants", "required"),
        ({"tenant": "common", "allowed_tenants": ["contoso.com"]}, "allowed_tenants", "GUID"),
        ({"allowed_tenants": ["99999999-8888-4777-8666-555555555555"]}, "allowed_tenants", "configured tenant"),
        ({"certificate": "-----BEGIN CERTIFICATE-----"}, "client_secret", "exactly one"),
        ({"client_secret": None, "certificate": "/nonexistent/cert.pem", "certificate_key": "x"}, "certificate", "cannot read"),
        ({"client_secret": None, "certificate": "-----BEGIN CERTIFICATE-----\nx", "certificate_key": None}, "certificate_key", "required"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_key(overrides: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(**overrides)
    assert f"providers.contoso.{key}" in caught.value.message
    assert text in caught.value.message
    assert SECRET not in caught.value.message


@pytest.mark.parametrize(
    "tenant",
    [TENANT, TENANT.upper(), "contoso.onmicrosoft.com", "common", "organizations", "consumers"],
)
def test_tenant_forms(tenant: str) -> None:
    allowed = ["*"] if tenant in {"common", "organizations"} else None
    provider = build(tenant=tenant, allowed_tenants=allowed)
    assert provider.config.tenant == tenant.lower()


def test_loopback_http_is_allowed_for_the_emulator() -> None:
    provider = build(authority_host="http://127.0.0.1:5002/", graph_base_url="http://localhost:5002")
    assert provider.config.authority == f"http://127.0.0.1:5002/{TENANT}"


def test_allowed_tenants_as_comma_separated_text() -> None:
    other = "99999999-8888-4777-8666-555555555555"
    provider = build(tenant="common", allowed_tenants=f"{TENANT}, {other}")
    assert provider.config.allowed_tenants == frozenset({TENANT, other})


def test_certificate_from_files_and_from_text(tmp_path: Path) -> None:
    key, certificate = _KEY_POOL[0].private_key_pem(), _KEY_POOL[0].certificate_pem()
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "cert.pem").write_bytes(certificate)
    from_files = build(
        client_secret=None,
        certificate=str(tmp_path / "cert.pem"),
        certificate_key=str(tmp_path / "key.pem"),
    )
    from_text = build(client_secret=None, certificate=certificate.decode(), certificate_key=key.decode())
    for provider in (from_files, from_text):
        assert provider.config.client_auth_method == "private_key_jwt"
        assert "PRIVATE" not in repr(provider.config)


def test_certificate_of_another_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="does not belong"):
        build(
            client_secret=None,
            certificate=_KEY_POOL[1].certificate_pem().decode(),
            certificate_key=_KEY_POOL[0].private_key_pem().decode(),
        )


def test_unknown_settings_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    build(clien_secret="typo")
    assert "providers.contoso.clien_secret" in caplog.text


def test_button_label() -> None:
    assert build().button_label == "Sign in with Contoso"


# --- hooks ----------------------------------------------------------------------------------


def test_plugin_module_declares_the_api_version_and_the_type() -> None:
    assert hub_entra.hub_api_version == HUB_API_VERSION == 1
    assert hub_entra.hub_provider_types() == [EntraProvider]
    assert EntraProvider.type_name == "entra"


def test_default_providers_from_a_tutorial_env() -> None:
    environ = {
        "TENANT_ID": TENANT,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": SECRET,
        "REDIRECT_URI": "http://localhost:5001/callback",
    }
    assert hub_entra.hub_default_providers(environ) == [
        {
            "id": "entra",
            "type": "entra",
            "name": "Microsoft",
            "tenant": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "redirect_uri": "http://localhost:5001/callback",
        }
    ]
    without_redirect = {k: v for k, v in environ.items() if k != "REDIRECT_URI"}
    assert "redirect_uri" not in hub_entra.hub_default_providers(without_redirect)[0]
    assert hub_entra.hub_default_providers({"TENANT_ID": TENANT, "CLIENT_ID": CLIENT_ID}) == []


def test_default_providers_pass_allowed_tenants() -> None:
    environ = {"TENANT_ID": "common", "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": SECRET}
    environ["ALLOWED_TENANTS"] = f"{TENANT}, "
    (provider,) = hub_entra.hub_default_providers(environ)
    assert provider["allowed_tenants"] == [TENANT]
    EntraProvider("entra", "Microsoft", provider, make_context())


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="identity_hub")}
    assert names.get("entra") == "hub_entra"
