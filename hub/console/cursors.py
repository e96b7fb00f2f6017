"""The linked-accounts list's sort orders and keyset page markers (opaque, checked when read back)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer

from hub.core.errors import HubError
from hub.core.models import LinkedAccount, UTCDateTime
from hub.core.parsing import parse_id, parse_instant


class BadListRequest(HubError):
    code = "bad_list_request"
    status = 400
    title = "This list address is not valid"
    hint = "Start again from the first page of the list."


@dataclass(frozen=True)
class Sort:
    """One way to order the list: key columns (the last makes the order unique), direction."""

    label: str
    keys: tuple[Any, ...]
    descending: bool
    nullable_first_key: bool = False
    """Rows whose first key is NULL come after all others, ordered by id (same on every database)."""


SORTS: dict[str, Sort] = {
    "linked_desc": Sort("Newest linked first", (LinkedAccount.linked_at, LinkedAccount.id), True),
    "linked_asc": Sort("Oldest linked first", (LinkedAccount.linked_at, LinkedAccount.id), False),
    "signin_desc": Sort(
        "Most recent sign-in first", (LinkedAccount.last_sign_in_at, LinkedAccount.id), True, True
    ),
    "provider": Sort("Provider, then subject", (LinkedAccount.provider_id, LinkedAccount.subject), False),
}
DEFAULT_SORT = "linked_desc"


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last row's sort keys; `null_phase` once past the non-NULLs."""

    values: tuple[Any, ...]
    null_phase: bool = False

    def encode(self) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in self.values]
        raw = json.dumps({"v": values, "n": self.null_phase}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str, sort: Sort) -> Cursor:
        try:
            if len(text) > 2048 or not text.isascii():
                raise ValueError("cursor too long")
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            values = list(raw["v"])
            null_phase = bool(raw.get("n", False))
            if len(values) != len(sort.keys):
                raise ValueError("wrong number of keys")
            parsed = tuple(_parse_key(key, value) for key, value in zip(sort.keys, values, strict=True))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, binascii.Error) as exc:
            raise BadListRequest("The page marker in this address is damaged or belongs to another sort order.") from exc
        return cls(parsed, null_phase)


def _parse_key(key: Any, value: Any) -> Any:
    """One cursor value, checked against its column: a time with a zone, an id within 64 bits,
    or text within the column's length (hub.core.parsing); anything else is a damaged cursor."""
    if value is None:
        return None
    if isinstance(key.type, UTCDateTime):
        return parse_instant(value, "cursor", error=BadListRequest)
    if isinstance(key.type, Integer):
        return parse_id(value, "cursor", error=BadListRequest)
    length = getattr(key.type, "length", None)
    if not isinstance(value, str) or (length is not None and len(value) > length):
        raise ValueError("cursor key of the wrong type")
    return value
