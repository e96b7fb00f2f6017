"""Validates a GitHub provider's settings once, at start, into a typed value.

Every problem raises ConfigError naming `providers.<id>.<key>` and what is expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ConfigError
from hub.oidc import base_url_setting
from hub.provider import CORE_SETTINGS

DEFAULT_API_BASE_URL = "https://api.github.com"
DEFAULT_WEB_BASE_URL = "https://github.com"
DEFAULT_SCOPES = ("read:user", "user:email")
KNOWN_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "scopes",
        "api_base_url",
        "web_base_url",
        "allow_signup",
    }
) | CORE_SETTINGS


@dataclass(frozen=True)
class GitHubSettings:
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    api_base_url: str = DEFAULT_API_BASE_URL
    web_base_url: str = DEFAULT_WEB_BASE_URL
    """GitHub Enterprise Server: `https://github.example.com` and `.../api/v3`."""
    allow_signup: bool = True


def parse_settings(provider_id: str, settings: Mapping[str, Any]) -> GitHubSettings:
    def key(name: str) -> str:
        return f"providers.{provider_id}.{name}"

    unknown = sorted(set(settings) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{key(unknown[0])}: unknown setting for a github provider (known: client_id, client_secret, scopes, api_base_url, web_base_url, allow_signup).")
    allow_signup = settings.get("allow_signup", True)
    if not isinstance(allow_signup, bool):
        raise ConfigError(f"{key('allow_signup')}: expected true or false.")
    return GitHubSettings(
        client_id=_text(settings.get("client_id"), key("client_id"), "the OAuth app's client id (Ov23li...)"),
        client_secret=_text(settings.get("client_secret"), key("client_secret"), "the OAuth app's client secret (from the environment, not hub.toml)"),
        scopes=_scopes(settings.get("scopes", list(DEFAULT_SCOPES)), key("scopes")),
        api_base_url=base_url_setting(settings.get("api_base_url", DEFAULT_API_BASE_URL), key("api_base_url")),
        web_base_url=base_url_setting(settings.get("web_base_url", DEFAULT_WEB_BASE_URL), key("web_base_url")),
        allow_signup=allow_signup,
    )


def _text(value: Any, name: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: required; expected {what}.")
    return value.strip()


def _scopes(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) and s and " " not in s for s in value):
        raise ConfigError(f'{name}: expected a list of GitHub scopes such as ["read:user", "user:email"].')
    return tuple(dict.fromkeys(value))
