"""The linked-accounts listing: one joined query per page, keyset pages, filters.

Why keyset and no totals: OFFSET and COUNT(*) both read every row before the page, so their
cost grows with the table (Keycloak's 28 s page 2 at 30M users, keycloak#44860). Here a page
is an index range scan from the last row shown: `(sort key, id) < (cursor)`, LIMIT n+1, and
"is there a next page" is the extra row. Users, linked accounts and token sets come from ONE
query per page (Keycloak's N+1 is keycloak#11803/#18183).

Sort orders and page markers are hub.console.cursors, the search hub.console.search, token
health hub.console.token_health, the CSV cells hub.console.listing_csv.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import literal, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from hub.console.cursors import DEFAULT_SORT, SORTS, BadListRequest, Cursor, Sort
from hub.console.search import search_condition
from hub.console.token_health import TOKEN_STATES, token_state, token_state_condition
from hub.core.models import LinkedAccount, TokenSet, User, utcnow

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_SEARCH = 320


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
    upstream_confirmed_at: datetime | None = None
    """When the provider last confirmed the account (hub.upstream.checks); a sign-in also counts."""
    upstream_outcome: str | None = None
    """The last re-check's outcome: confirmed, refused, transient, unsupported (None: never checked)."""
    upstream_error: str | None = None
    """The provider's error code of a refused or transient check (e.g. AADSTS50057)."""
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
    LinkedAccount.upstream_confirmed_at,
    LinkedAccount.upstream_outcome,
    LinkedAccount.upstream_error,
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
        upstream_confirmed_at=row.upstream_confirmed_at,
        upstream_outcome=row.upstream_outcome,
        upstream_error=row.upstream_error,
        sort_values=tuple(values[key.key] for key in sort.keys),
    )


def accounts_of_user(session: Session, user_id: int, now: datetime | None = None) -> list[AccountRow]:
    """A user's linked accounts with token health, in one query (the user detail page)."""
    now = now or utcnow()
    sort = SORTS["linked_asc"]
    query = base_query(session, ListFilters(), now).where(LinkedAccount.user_id == user_id)
    return [_row(row, sort, now) for row in session.execute(query.order_by(LinkedAccount.linked_at, LinkedAccount.id))]


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
