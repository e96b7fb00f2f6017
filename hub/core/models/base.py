"""The models' common ground: the declarative Base and its naming convention, UTC datetimes, column helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_subject() -> str:
    """A new user's public subject identifier: 122 random bits (UUID4), so it neither counts
    the hub's users nor can ever be handed out again after the user is deleted."""
    return str(uuid.uuid4())


def column_length(attribute: Any) -> int | None:
    """The declared length of a mapped string column (User.email -> 320)."""
    return getattr(attribute.property.columns[0].type, "length", None)


def clip(attribute: Any, value: str | None) -> str | None:
    """Text from outside (a provider's profile, a browser's User-Agent) cut to its column.

    The one place that does it, driven by the column lengths below: PostgreSQL refuses an
    over-long value (a 5,000-character displayName made every sign-in of that person a 500),
    SQLite silently keeps it. Only for display text: identifiers that do not fit are refused
    (hub.core.accounts), never cut, since a cut identifier could name someone else.
    """
    if value is None:
        return None
    length = column_length(attribute)
    if length is None or len(value) <= length:
        return value
    return value[: length - 1] + "…"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use hub.core.models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}
