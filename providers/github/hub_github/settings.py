"""Validates a GitHub provider's settings once, at start, into a typed value.

Every problem raises ConfigError naming `providers.<id>.<key>` and what is expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.oidc.settings import base_url_setting, check_known_keys, flag_setting, scopes_setting, text_setting
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

    check_known_keys(settings, KNOWN_KEYS, provider_id, "github")
    return GitHubSettings(
        client_id=text_setting(settings.get("client_id"), key("client_id"), "the OAuth app's client id (Ov23li...)"),
        client_secret=text_setting(settings.get("client_secret"), key("client_secret"), "the OAuth app's client secret (from the environment, not hub.toml)"),
        scopes=scopes_setting(settings.get("scopes", list(DEFAULT_SCOPES)), key("scopes"), '["read:user", "user:email"]'),
        api_base_url=base_url_setting(settings.get("api_base_url", DEFAULT_API_BASE_URL), key("api_base_url")),
        web_base_url=base_url_setting(settings.get("web_base_url", DEFAULT_WEB_BASE_URL), key("web_base_url")),
        allow_signup=flag_setting(settings.get("allow_signup", True), key("allow_signup")),
    )
