"""The linked-accounts search, index-backed by design: a case-insensitive prefix of the email or
display name, or exactly the subject (migration 0003 explains the per-database index forms); a
substring search would have to read the whole table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.orm import Session

from hub.core.models import LinkedAccount


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
