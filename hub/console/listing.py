"""The linked-accounts listing: one joined query per page, keyset pages, search, filters, CSV rows.

Why keyset and no totals: OFFSET and COUNT(*) both read every row before the page, so their
cost grows with the table (Keycloak's 28 s page 2 at 30M users, keycloak#44860). Here a page
is an index range scan from the last row shown: `(sort key, id) < (cursor)`, LIMIT n+1, and
"is there a next page" is the extra row. Users, linked accounts and token sets come from ONE
query per page (Keycloak's N+1 is keycloak#11803/#18183).

Search is index-backed by design: a case-insensitive prefix of the email or display name, or
the exact subject (migration 0003 explains the per-database index forms). A substring search
would have to read the whole table.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hub.core import csvsafe
from hub.core.errors import HubError
from hub.core.models import LinkedAccount, TokenSet, User, UTCDateTime, utcnow
from hub.core.parsing import parse_id, parse_instant

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_SEARCH = 320


class BadListRequest(HubError):
    code = "bad_list_request"
    status = 400
    title = "This list address is not valid"
    hint = "Start again from the first page of the list."


# --- token health ------------------------------------------------------------------------------

TOKEN_STATES: dict[str, str] = {
    "valid": "Valid",
    "expired": "Access token expired",
    "reauth": "Needs sign-in again",
    "none": "No tokens stored",
}
"""Token state -> label. `expired` is normal between uses (the vault refreshes on demand);
`reauth` means the provider refused the refresh token (or it was unreadable): only the user
signing in again fixes it."""


def token_state(needs_reauth: bool, has_tokens: bool, access_expires_at: datetime | None, now: datetime) -> str:
    """The health of one linked account's tokens, from metadata only (tokens stay sealed)."""
    if needs_reauth:
        return "reauth"
    if not has_tokens:
        return "none"
    if access_expires_at is not None and access_expires_at < now:
        return "expired"
    return "valid"


def token_state_condition(state: str, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of `token_state`, for the list filter."""
    healthy = LinkedAccount.needs_reauth.is_(False)
    conditions: dict[str, ColumnElement[bool]] = {
        "reauth": LinkedAccount.needs_reauth.is_(True),
        "none": and_(healthy, TokenSet.id.is_(None)),
        "expired": and_(healthy, TokenSet.access_expires_at < now),
        "valid": and_(
            healthy,
            TokenSet.id.is_not(None),
            or_(TokenSet.access_expires_at.is_(None), TokenSet.access_expires_at >= now),
        ),
    }
    return conditions[state]


# --- sorting and cursors ------------------------------------------------------------------------


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


# --- the query ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    """What the admin asked to see. Parsed from the query string by the view."""

    search: str = ""
    provider_id: str = ""
    state: str = ""
    sort: str = DEFAULT_SORT

    def validated(self) -> ListFilters:
        if self.sort not in SORTS:
            raise BadListRequest(f"Unknown sort order {self.sort[:40]!r}; choose one from the list.")
        if self.state and self.state not in TOKEN_STATES:
            raise BadListRequest(f"Unknown token state {self.state[:40]!r}; choose one from the list.")
        if len(self.search) > MAX_SEARCH:
            raise BadListRequest(f"Searches are at most {MAX_SEARCH} characters.")
        return self


@dataclass(frozen=True)
class AccountRow:
    """One line of the list: a linked account, its user, and its token health (metadata only)."""

    id: int
    provider_id: str
    subject: str
    email: str | None
    email_verified: bool
    """Whether the provider verified `email`; the console marks unverified addresses."""
    display_name: str | None
    linked_at: datetime
    last_sign_in_at: datetime | None
    user_id: int
    user_display_name: str | None
    user_email: str | None
    user_disabled: bool
    state: str
    access_expires_at: datetime | None
    last_refresh_at: datetime | None
    scopes_granted: tuple[str, ...]
    scopes_requested: tuple[str, ...]
    refresh_failures: int
    sort_values: tuple[Any, ...] = field(repr=False, default=())

    @property
    def scopes_missing(self) -> tuple[str, ...]:
        """Requested but not granted: a partial consent an admin should know about."""
        granted = set(self.scopes_granted)
        return tuple(scope for scope in self.scopes_requested if scope not in granted)


@dataclass(frozen=True)
class Page:
    rows: list[AccountRow]
    next_cursor: str | None


COLUMNS = (
    LinkedAccount.id,
    LinkedAccount.provider_id,
    LinkedAccount.subject,
    LinkedAccount.email,
    LinkedAccount.email_verified,
    LinkedAccount.display_name,
    LinkedAccount.linked_at,
    LinkedAccount.last_sign_in_at,
    LinkedAccount.needs_reauth,
    User.id.label("user_id"),
    User.display_name.label("user_display_name"),
    User.email.label("user_email"),
    User.disabled_at.label("user_disabled_at"),
    TokenSet.id.label("token_set_id"),
    TokenSet.access_expires_at,
    TokenSet.last_refresh_at,
    TokenSet.scopes_granted,
    TokenSet.scopes_requested,
    TokenSet.refresh_failures,
)


def base_query(session: Session, filters: ListFilters, now: datetime) -> Select[Any]:
    """Users ⨝ linked accounts ⟕ token sets with the filters applied, unordered."""
    query = (
        select(*COLUMNS)
        .join(User, User.id == LinkedAccount.user_id)
        .outerjoin(TokenSet, TokenSet.linked_account_id == LinkedAccount.id)
    )
    if filters.provider_id:
        query = query.where(LinkedAccount.provider_id == filters.provider_id)
    if filters.state:
        query = query.where(token_state_condition(filters.state, now))
    if filters.search:
        query = query.where(search_condition(session, filters.search))
    return query


def search_condition(session: Session, text: str) -> ColumnElement[bool]:
    """Prefix of email or display name (case-insensitive), or exactly the subject."""
    text = text.strip()
    pattern = _escape_like(text.lower()) + "%"
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's LIKE ignores ASCII case and uses the COLLATE NOCASE indexes; lower() would not.
        email = LinkedAccount.email.like(pattern, escape="\\")
        name = LinkedAccount.display_name.like(pattern, escape="\\")
    else:
        email = _pg_prefix(func.lower(LinkedAccount.email), text.lower(), pattern)
        name = _pg_prefix(func.lower(LinkedAccount.display_name), text.lower(), pattern)
    return or_(email, name, LinkedAccount.subject == text)


def _pg_prefix(expression: Any, prefix: str, pattern: str) -> ColumnElement[bool]:
    """`expression LIKE 'prefix%'` that uses the text_pattern_ops index even in a generic plan.

    PostgreSQL derives an index range from LIKE only when it sees the pattern; psycopg prepares
    a statement after a few runs, and the generic plan then scans the table. The explicit range
    in the pattern operators (~>=~, ~<~: byte order, like text_pattern_ops) works with a bound
    parameter; the LIKE stays as the exact check.
    """
    condition = and_(expression.op("~>=~")(prefix), expression.like(pattern, escape="\\"))
    upper = _next_prefix(prefix)
    return and_(condition, expression.op("~<~")(upper)) if upper else condition


def _next_prefix(prefix: str) -> str | None:
    """The smallest string above every string starting with `prefix` (code-point order)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF and not 0xD7FF <= last < 0xE000:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_page(
    session: Session,
    filters: ListFilters,
    after: str | None = None,
    size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Page:
    """One page of the list, starting after the cursor (None: the first page)."""
    return _page(session, filters.validated(), after, max(1, min(size, MAX_PAGE_SIZE)), now or utcnow())


def _page(session: Session, filters: ListFilters, after: str | None, size: int, now: datetime) -> Page:
    sort = SORTS[filters.sort]
    cursor = Cursor.decode(after, sort) if after else None
    base = base_query(session, filters, now)
    rows: list[Any] = []
    if not (cursor and cursor.null_phase):
        rows = _fetch(session, _ordered(base, sort, cursor, null_phase=False), size + 1)
    if sort.nullable_first_key and len(rows) <= size:
        null_cursor = cursor if cursor and cursor.null_phase else None
        rows += _fetch(session, _ordered(base, sort, null_cursor, null_phase=True), size + 1 - len(rows))
    more = len(rows) > size
    page_rows = [_row(row, sort, now) for row in rows[:size]]
    next_cursor = None
    if more and page_rows:
        last = page_rows[-1]
        in_null_phase = sort.nullable_first_key and last.sort_values[0] is None
        next_cursor = Cursor(last.sort_values, in_null_phase).encode()
    return Page(page_rows, next_cursor)


def _ordered(base: Select[Any], sort: Sort, cursor: Cursor | None, *, null_phase: bool) -> Select[Any]:
    """The query ordered by the sort's keys, continuing after the cursor."""
    keys = sort.keys
    if sort.nullable_first_key:
        if null_phase:
            # Only the unique tail key orders the NULL rows.
            keys = keys[1:]
            base = base.where(sort.keys[0].is_(None))
        else:
            base = base.where(sort.keys[0].is_not(None))
    if cursor is not None:
        values = cursor.values[len(sort.keys) - len(keys):]
        left = tuple_(*keys) if len(keys) > 1 else keys[0]
        right = (
            tuple_(*(literal(v, k.type) for k, v in zip(keys, values, strict=True)))
            if len(keys) > 1
            else literal(values[0], keys[0].type)
        )
        base = base.where(left < right if sort.descending else left > right)
    order = [key.desc() if sort.descending else key.asc() for key in keys]
    return base.order_by(*order)


def _fetch(session: Session, query: Select[Any], limit: int) -> list[Any]:
    return list(session.execute(query.limit(limit)).all()) if limit > 0 else []


def _row(row: Any, sort: Sort, now: datetime) -> AccountRow:
    values = {
        LinkedAccount.linked_at.key: row.linked_at,
        LinkedAccount.id.key: row.id,
        LinkedAccount.last_sign_in_at.key: row.last_sign_in_at,
        LinkedAccount.provider_id.key: row.provider_id,
        LinkedAccount.subject.key: row.subject,
    }
    return AccountRow(
        id=row.id,
        provider_id=row.provider_id,
        subject=row.subject,
        email=row.email,
        email_verified=bool(row.email_verified),
        display_name=row.display_name,
        linked_at=row.linked_at,
        last_sign_in_at=row.last_sign_in_at,
        user_id=row.user_id,
        user_display_name=row.user_display_name,
        user_email=row.user_email,
        user_disabled=row.user_disabled_at is not None,
        state=token_state(row.needs_reauth, row.token_set_id is not None, row.access_expires_at, now),
        access_expires_at=row.access_expires_at,
        last_refresh_at=row.last_refresh_at,
        scopes_granted=tuple((row.scopes_granted or "").split()),
        scopes_requested=tuple((row.scopes_requested or "").split()),
        refresh_failures=row.refresh_failures or 0,
        sort_values=tuple(values[key.key] for key in sort.keys),
    )


def accounts_of_user(session: Session, user_id: int, now: datetime | None = None) -> list[AccountRow]:
    """A user's linked accounts with token health, in one query (the user detail page)."""
    now = now or utcnow()
    sort = SORTS["linked_asc"]
    query = base_query(session, ListFilters(), now).where(LinkedAccount.user_id == user_id)
    return [_row(row, sort, now) for row in session.execute(query.order_by(LinkedAccount.linked_at, LinkedAccount.id))]


# --- CSV -----------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "linked_account_id", "user_id", "user_name", "user_email", "user_disabled", "provider_id",
    "subject", "email", "email_verified", "display_name", "linked_at", "last_sign_in_at", "token_state",
    "access_expires_at", "last_refresh_at", "scopes_granted", "scopes_requested",
    "refresh_failures",
)
csv_cell = csvsafe.cell


def csv_line(cells: Sequence[str]) -> str:
    return csvsafe.line(cells, "\r\n")


def csv_record(row: AccountRow) -> list[str]:
    values: Sequence[Any] = (
        row.id, row.user_id, row.user_display_name, row.user_email, row.user_disabled,
        row.provider_id, row.subject, row.email, row.email_verified, row.display_name, row.linked_at,
        row.last_sign_in_at, row.state, row.access_expires_at, row.last_refresh_at,
        row.scopes_granted, row.scopes_requested, row.refresh_failures,
    )
    return [csv_cell(value) for value in values]


def all_rows(session: Session, filters: ListFilters, batch_size: int = 1000) -> Iterator[AccountRow]:
    """Every matching row, a keyset batch at a time (the CSV export streams these)."""
    filters = filters.validated()
    after: str | None = None
    now = utcnow()
    while True:
        page = _page(session, filters, after, batch_size, now)
        yield from page.rows
        if page.next_cursor is None:
            return
        after = page.next_cursor
