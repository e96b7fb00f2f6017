"""What never reaches an audit event's details or a log line: secrets masked, control characters escaped."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

log = logging.getLogger(__name__)

MASK = "[masked]"
MAX_DETAIL_STRING = 2000
MAX_DETAIL_DEPTH = 6

_SECRET_WORDS = frozenset(
    {
        "token", "tokens", "secret", "secrets", "password", "passwd", "passphrase", "verifier",
        "assertion", "cookie", "authorization", "credential", "credentials", "key", "keys",
        "apikey", "bearer", "otp", "pin",
    }
)
_CODE_PREFIXES = frozenset({"", "auth", "authorization", "device", "user", "recovery", "otp"})
_DESCRIPTIVE_LAST_WORDS = frozenset({"id", "ids", "count", "type", "kind", "name", "at", "expires"})
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LOOKS_SECRET = re.compile(r"(eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.)|(^\s*bearer\s+\S)", re.I)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def clean_text(value: str, limit: int | None = None) -> str:
    """A string safe to put in a log line: control, line-separator and bidi characters are
    written as visible \\uXXXX escapes (log injection, ANSI sequences), and long text is cut."""
    cleaned = _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", value)
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 1, 0)] + "…"
    return cleaned


def is_secret_key(name: str) -> bool:
    """Whether a details key names secret material (token, code, secret, verifier, ...).

    Keys that describe a secret rather than hold it (`key_id`, `token_type`, `reason_code`)
    are not secret.
    """
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words or words[-1] in _DESCRIPTIVE_LAST_WORDS:
        return False
    if words[-1] == "code":
        return "".join(words[:-1]) in _CODE_PREFIXES
    return any(word in _SECRET_WORDS for word in words)


def scrub_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Audit details made safe and canonical (defence in depth, A02).

    Values under secret-looking keys, and strings that look like a JWT or a bearer header,
    are replaced by "[masked]"; strings are cleaned with `clean_text`; anything that is not
    plain JSON (datetimes, sets, objects) becomes a string, so the MAC computed before the
    write equals the one recomputed from the stored JSON.
    """
    return _scrub_mapping(details or {}, 0)


def _scrub_mapping(mapping: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for raw_key, value in mapping.items():
        key = clean_text(str(raw_key), 128)
        if is_secret_key(key) and value not in (None, "", [], {}):
            log.warning("audit detail %r looked secret and was masked", key)
            scrubbed[key] = MASK
        else:
            scrubbed[key] = _scrub_value(value, depth + 1)
    return scrubbed


def _scrub_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth > MAX_DETAIL_DEPTH:
        return clean_text(str(value), MAX_DETAIL_STRING)
    if isinstance(value, Mapping):
        return _scrub_mapping(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_scrub_value(item, depth + 1) for item in items]
    text_value = str(value)
    if _LOOKS_SECRET.search(text_value):
        return MASK
    return clean_text(text_value, MAX_DETAIL_STRING)
