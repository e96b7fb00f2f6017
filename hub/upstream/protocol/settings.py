"""Checks for provider settings that every provider type needs: URLs, ids, scopes, flags.

Each raises ConfigError naming the setting (`providers.<id>.<key>`) and what is expected, so a
typo is found when the hub starts, not at the first sign-in. None of them repeats the value
it refused unless the value cannot be secret (a URL, a flag), so a client secret pasted into
the wrong setting never reaches a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from hub.core.errors import ConfigError

GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and bool(GUID_PATTERN.match(value))


def base_url_setting(value: Any, key: str) -> str:
    """An https base URL without a trailing slash; http only for loopback hosts (the
    emulator), so a typo can never send secrets over plain text to a real host."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a URL such as https://login.microsoftonline.com.")
    parts = urlsplit(value.rstrip("/"))
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(
            f"{key} must be an https:// URL (http:// is allowed only for 127.0.0.1 or "
            f"localhost), got {value!r}."
        )
    if parts.query or parts.fragment or not parts.netloc:
        raise ConfigError(f"{key} must be a plain base URL without query or fragment.")
    return value.rstrip("/")


def text_setting(value: Any, key: str, what: str) -> str:
    """A required, non-blank string (stripped); `what` says what belongs there."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: required; expected {what}.")
    return value.strip()


def flag_setting(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}.")
    return value


def scopes_setting(value: Any, key: str, example: str, *, required: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A list of scope names (or one space-separated string), duplicates dropped; `required`
    scopes must be in it."""
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple) or not all(isinstance(s, str) and s and " " not in s for s in value):
        raise ConfigError(f"{key}: expected a list of scope names such as {example}.")
    for scope in required:
        if scope not in value:
            raise ConfigError(f'{key}: must include "{scope}".')
    return tuple(dict.fromkeys(value))


def string_map_setting(value: Any, key: str, example: str) -> Mapping[str, str]:
    """A table of strings to strings (role maps, extra parameters)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{key}: expected a table such as {example}.")
    return dict(value)


def seconds_setting(value: Any, key: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise ConfigError(f"{key}: expected a whole number of seconds from 0 to {maximum}, got {value!r}.")
    return value


def check_known_keys(settings: Mapping[str, Any], known: frozenset[str], provider_id: str, type_name: str) -> None:
    """Refuse a setting the provider type does not know (a typo would otherwise be ignored)."""
    unknown = sorted(set(settings) - known)
    if unknown:
        listed = ", ".join(sorted(known - {"id", "type"}))
        raise ConfigError(f"providers.{provider_id}.{unknown[0]}: unknown setting for a {type_name} provider (known: {listed}).")
