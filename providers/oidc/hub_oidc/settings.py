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

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


RESERVED_AUTHORIZE_PARAMS = frozenset(
    {"state", "nonce", "code_challenge", "code_challenge_method", "redirect_uri", "client_id", "response_type", "scope"}
)


def parse_settings(provider_id: str, settings: Mapping[str, Any]) -> OidcSettings:
    """Check every setting; the message names the key and the expected form."""

    def key(name: str) -> str:
        return f"providers.{provider_id}.{name}"

    unknown = sorted(set(settings) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{key(unknown[0])}: unknown setting for an oidc provider (known: {', '.join(sorted(KNOWN_KEYS - {'id', 'type'}))})")
    issuer = settings.get("issuer")
    base_url_setting(issuer, key("issuer"))  # https, or http on loopback only
    assert isinstance(issuer, str)
    return OidcSettings(
        issuer=issuer,  # kept exactly as written: discovery must name this very string
        client_id=_text(settings.get("client_id"), key("client_id"), "the client id registered at the provider"),
        client_secret=_text(settings.get("client_secret"), key("client_secret"), "the client secret (from the environment, not hub.toml)"),
        client_auth_method=_choice(settings.get("client_auth_method", "client_secret_basic"), key("client_auth_method")),
        scopes=_scopes(settings.get("scopes", list(DEFAULT_SCOPES)), key("scopes")),
        userinfo=_flag(settings.get("userinfo", False), key("userinfo")),
        role_claim=_optional_text(settings.get("role_claim"), key("role_claim")),
        role_map=_string_map(settings.get("role_map", {}), key("role_map")),
        clock_skew_seconds=_seconds(settings.get("clock_skew_seconds", DEFAULT_CLOCK_SKEW), key("clock_skew_seconds"), 600),
        discovery_ttl_seconds=_seconds(settings.get("discovery_ttl_seconds", 24 * 3600), key("discovery_ttl_seconds"), 7 * 86400),
        authorize_params=_authorize_params(settings.get("authorize_params", {}), key("authorize_params")),
    )


def _text(value: Any, name: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: required; expected {what}.")
    return value.strip()


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    return _text(value, name, "a claim name such as roles or groups")


def _choice(value: Any, name: str) -> str:
    if value not in CLIENT_AUTH_METHODS:
        raise ConfigError(f"{name}: expected one of {', '.join(CLIENT_AUTH_METHODS)}, got {value!r}.")
    return str(value)


def _scopes(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) and s and " " not in s for s in value):
        raise ConfigError(f"{name}: expected a list of scope names such as [\"openid\", \"profile\", \"email\"].")
    if "openid" not in value:
        raise ConfigError(f"{name}: must include \"openid\"; without it the provider sends no ID token.")
    return tuple(dict.fromkeys(value))


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}.")
    return value


def _string_map(value: Any, name: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{name}: expected a table of provider role -> hub role, such as {{ \"hub-admins\" = \"admin\" }}.")
    return dict(value)


def _authorize_params(value: Any, name: str) -> Mapping[str, str]:
    params = _string_map(value, name)
    reserved = sorted(set(params) & RESERVED_AUTHORIZE_PARAMS)
    if reserved:
        raise ConfigError(f"{name}: {reserved[0]} is set by the hub and cannot be overridden.")
    return params


def _seconds(value: Any, name: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ConfigError(f"{name}: expected a whole number of seconds from 0 to {maximum}, got {value!r}.")
    return value
