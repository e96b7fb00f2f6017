"""Small helpers every part of the relying-party toolkit uses: JSON answers, URLs, redaction.

Never put a token, code, verifier, assertion or secret in an exception message, a log line or
a repr: the toolkit's classes hide them with `repr=False` and its error paths use `redact`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from hub.core.errors import ProviderUnavailable

Clock = Callable[[], float]
"""Returns the current Unix time in seconds; `time.time` outside tests."""

DEFAULT_CLOCK_SKEW = 120
"""Seconds of clock difference tolerated on `exp`, `nbf` and `iat`."""


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value in text by `[redacted]`: a defence in depth for text that
    comes from the provider and ends up in an error message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def add_query(url: str, params: Mapping[str, str]) -> str:
    """Append params to url's query string, keeping any query it already has (Entra's
    `?appid=` metadata variant, for example)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def read_json(response: requests.Response, what: str) -> Any:
    """The JSON body of a provider answer, or ProviderUnavailable when it is an HTML error
    page or malformed (what a proxy or an outage returns)."""
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderUnavailable(
            f"The {what} at {host_of(response.url)} answered HTTP {response.status_code} with a "
            "body that is not JSON (an outage page or a proxy in between?)."
        ) from exc


def host_of(url: str | None) -> str:
    """The host named in error messages; never the path or query (they may carry codes)."""
    return urlsplit(url or "").netloc or "the identity provider"


def is_number(value: Any) -> bool:
    """JSON numbers only: `true` is not a time."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def first_line(text: str) -> str:
    """The first line of a provider's error text, clipped, for a message a person reads."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
