"""Parsing what a request names: ids, bounded numbers, days and JSON bodies, each into a 4xx.

Why one module: Python is generous where the database is not. `str.isdigit()` is true for
"²" and "٣" (then `int("²")` raises), `int()` accepts "+7", " 7" and "7_000", and an id
beyond 64 bits passes Python but overflows SQLite's INTEGER and PostgreSQL's BIGINT, each a
500. Ids beyond 32 bits are the same on PostgreSQL, whose INTEGER columns stop at 2**31-1
(a hypothesis run found `user=2147483648`). Every id, cursor value, page size and date the hub reads from a URL, query, form or
JSON body goes through these functions, which accept ASCII digits within the database's
range only and raise a HubError (400, or the caller's own error class) naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hub.core.errors import HubError

MAX_ID = 2**31 - 1
"""The largest id: the hub's id columns are INTEGER, 32 bits on PostgreSQL (64 on SQLite)."""
MAX_BIGINT = 2**63 - 1
"""The largest BIGINT (audit event numbers)."""

_ASCII_NUMBER = re.compile(r"[0-9]{1,19}")
_ASCII_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class InvalidInput(HubError):
    """A value in the request is malformed or out of range; nothing was read or changed."""

    code = "invalid_input"
    status = 400
    title = "This request is not valid"
    hint = "Correct the value named above and try again."


def parse_int(
    text: Any, what: str, *, low: int = 0, high: int = MAX_BIGINT, error: type[HubError] = InvalidInput
) -> int:
    """A whole number written in ASCII digits, within [low, high]; `error` otherwise."""
    if isinstance(text, bool):
        raise error(f"{what}: expected a whole number, got {text!r}.")
    if isinstance(text, int):
        number = text
    elif isinstance(text, str) and _ASCII_NUMBER.fullmatch(text):
        number = int(text)
    else:
        shown = text[:40] if isinstance(text, str) else type(text).__name__
        raise error(f"{what}: expected a whole number written with the digits 0-9, got {shown!r}.")
    if not low <= number <= high:
        raise error(f"{what}: expected a number from {low} to {high}, got {number if number.bit_length() < 80 else 'a larger one'}.")
    return number


def parse_id(text: Any, what: str, *, high: int = MAX_ID, error: type[HubError] = InvalidInput) -> int:
    """A database id (1 .. 2**31-1, or `high` for a BIGINT column)."""
    return parse_int(text, what, low=1, high=high, error=error)


def optional_id(
    text: str | None, what: str, *, high: int = MAX_ID, error: type[HubError] = InvalidInput
) -> int | None:
    """An id, or None for an absent or empty value."""
    text = (text or "").strip()
    return parse_id(text, what, high=high, error=error) if text else None


def parse_day(text: str, what: str, *, error: type[HubError] = InvalidInput) -> datetime:
    """A UTC day written YYYY-MM-DD (ASCII), as the datetime of its midnight."""
    if not isinstance(text, str) or not _ASCII_DAY.fullmatch(text):
        raise error(f"{what}: give a date as YYYY-MM-DD (UTC).")
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise error(f"{what}: {text} is not a date on the calendar.") from None


def parse_instant(text: Any, what: str, *, error: type[HubError] = InvalidInput) -> datetime:
    """An ISO 8601 time with its zone (cursor values); years 1..9999 only, as Python's."""
    if not isinstance(text, str) or not text.isascii() or len(text) > 40:
        raise error(f"{what}: expected an ISO 8601 time.")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise error(f"{what}: expected an ISO 8601 time.") from None
    if parsed.tzinfo is None:
        raise error(f"{what}: expected a time with its zone.")
    return parsed


def json_object(body: Any, *, error: type[HubError] = InvalidInput) -> dict[str, Any]:
    """A JSON request body that must be an object (`[1]`, `"str"` and `123` are refused), with
    no text a database cannot store (NUL, lone surrogates such as "\\ud800")."""
    if not isinstance(body, dict):
        raise error(
            "The request body must be a JSON object such as {\"provider_id\": ..., \"subject\": ...}.",
            code="bad_request",
        )
    pending: list[Any] = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and _UNSTORABLE.search(value):
            raise error("The request body contains a NUL character or a lone surrogate.", code="bad_request")
    return body


def check_request_text(values: Any) -> None:
    """Refuse a NUL character in the path, query or form (PostgreSQL cannot store or compare
    it, so it would be a 500 deep in a query). Werkzeug already replaces bad UTF-8."""
    for value in values:
        if "\x00" in value:
            raise InvalidInput("The request contains a NUL character.")
