"""Validates a generic OpenID Connect provider's settings once, at start, into a typed value.

Every problem raises ConfigError naming `providers.<id>.<key>` and what is expected, so a typo
is found when the hub starts and not when the first person tries to sign in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ConfigError
from hub.oidc import DEFAULT_CLOCK_SKEW, base_url_setting
from hub.oidc.settings import (
    check_known_keys,
    flag_setting,
    scopes_setting,
    seconds_setting,
    string_map_setting,
    text_setting,
)
from hub.provider import CORE_SETTINGS

DEFAULT_SCOPES = ("openid", "profile", "email")
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
KNOWN_KEYS = frozenset(
    {
        "issuer",
        "client_id",
        "client_secret",
        "client_auth_method",
        "scopes",
        "userinfo",
        "role_claim",
        "role_map",
        "clock_skew_seconds",
        "discovery_ttl_seconds",
        "authorize_params",
    }
) | CORE_SETTINGS


@dataclass(frozen=True)
class OidcSettings:
    """One OpenID Connect provider's settings, checked."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    client_auth_method: str = "client_secret_basic"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    userinfo: bool = False
    role_claim: str | None = None
    role_map: Mapping[str, str] = field(default_factory=dict)
    clock_skew_seconds: int = DEFAULT_CLOCK_SKEW
    discovery_ttl_seconds: int = 24 * 3600
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    """Extra authorization request parameters some providers need (Google:
    `access_type = "offline"` for a refresh token); never state, nonce or PKCE."""


RESERVED_AUTHORIZE_PARAMS = frozenset(
    {"state", "nonce", "code_challenge", "code_challenge_method", "redirect_uri", "client_id", "response_type", "scope"}
)


def parse_settings(provider_id: str, settings: Mapping[str, Any]) -> OidcSettings:
    """Check every setting; the message names the key and the expected form."""

    def key(name: str) -> str:
        return f"providers.{provider_id}.{name}"

    check_known_keys(settings, KNOWN_KEYS, provider_id, "oidc")
    issuer = settings.get("issuer")
    base_url_setting(issuer, key("issuer"))  # https, or http on loopback only
    assert isinstance(issuer, str)
    method = settings.get("client_auth_method", "client_secret_basic")
    if method not in CLIENT_AUTH_METHODS:
        raise ConfigError(f"{key('client_auth_method')}: expected one of {', '.join(CLIENT_AUTH_METHODS)}, got {method!r}.")
    role_claim = settings.get("role_claim")
    return OidcSettings(
        issuer=issuer,  # kept exactly as written: discovery must name this very string
        client_id=text_setting(settings.get("client_id"), key("client_id"), "the client id registered at the provider"),
        client_secret=text_setting(settings.get("client_secret"), key("client_secret"), "the client secret (from the environment, not hub.toml)"),
        client_auth_method=str(method),
        scopes=scopes_setting(settings.get("scopes", list(DEFAULT_SCOPES)), key("scopes"), '["openid", "profile", "email"]', required=("openid",)),
        userinfo=flag_setting(settings.get("userinfo", False), key("userinfo")),
        role_claim=None if role_claim is None else text_setting(role_claim, key("role_claim"), "a claim name such as roles or groups"),
        role_map=string_map_setting(settings.get("role_map", {}), key("role_map"), '{ "hub-admins" = "admin" }'),
        clock_skew_seconds=seconds_setting(settings.get("clock_skew_seconds", DEFAULT_CLOCK_SKEW), key("clock_skew_seconds"), 600),
        discovery_ttl_seconds=seconds_setting(settings.get("discovery_ttl_seconds", 24 * 3600), key("discovery_ttl_seconds"), 7 * 86400),
        authorize_params=_authorize_params(settings.get("authorize_params", {}), key("authorize_params")),
    )


def _authorize_params(value: Any, name: str) -> Mapping[str, str]:
    params = string_map_setting(value, name, '{ access_type = "offline" }')
    reserved = sorted(set(params) & RESERVED_AUTHORIZE_PARAMS)
    if reserved:
        raise ConfigError(f"{name}: {reserved[0]} is set by the hub and cannot be overridden.")
    return params
