"""The linked-accounts list as CSV: the columns, and each row as spreadsheet-safe cells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.console.listing import AccountRow
from hub.core import csvsafe

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
