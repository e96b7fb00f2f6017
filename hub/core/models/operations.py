"""The operators' tables: the audit log, its outbox and retention gate, API keys, the logout-token replay cache."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.models.base import Base, utcnow


class _EventFields:
    """What an audit event says, the same in the chain (audit_events) and in its outbox
    (audit_pending): one definition, so the two tables cannot drift apart."""

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None]
    subject_user_id: Mapped[int | None]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mac: Mapped[str] = mapped_column(String(64))


class AuditEvent(_EventFields, Base):
    """One append-only audit record, chained to its predecessor by a keyed MAC (hub.core.audit)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_subject_user_id", "subject_user_id"),
        # The admin console: a user's events, and the sign-in chart (covering).
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_type_occurred_at", "type", "occurred_at", "provider_id", "outcome"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )


class AuditPending(_EventFields, Base):
    """An audit event written on the request path, not yet linked into the chain (the outbox).

    `hub.core.audit.outbox` inserts it in the caller's transaction without any lock; the
    chainer (`hub.core.audit.chainer`) moves it into audit_events, in id order per batch, and
    deletes it. `mac` is a keyed MAC of the row's own fields under the audit key, so an edit
    made before chaining is detected; a deletion is bounded by the chain lag (docs).
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)


class AuditRetentionGate(Base):
    """The retention escape hatch of the append-only audit_events table (migration 0002).

    The table's triggers refuse every UPDATE, and every DELETE unless a row here covers the
    deleted event's seq. hub.core.audit.prune inserts that row, deletes, appends its seal and
    removes the row again, all in one transaction, so no other transaction ever sees it open.
    """

    __tablename__ = "audit_retention_gate"

    id: Mapped[int] = mapped_column(primary_key=True)
    through_seq: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A key a back-end service presents to the token API. Only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    """The key's public part, to find its row without scanning; the secret part is hashed."""
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    providers: Mapped[list[str] | None]
    """The key's scope: the providers whose tokens it may fetch; None for every provider."""
    expires_at: Mapped[datetime | None]
    """When the key stops working on its own; None: until revoked."""


class SeenLogoutToken(Base):
    """A back-channel logout token already acted on, kept until the token expires.

    The (provider, jti) primary key makes a replay fail on insert in whichever worker it
    reaches; rows past `expires_at` are deleted at each insert and by `hub db purge`.
    """

    __tablename__ = "seen_logout_tokens"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 hex of the token's `jti`: fixed size whatever the provider sends."""
    expires_at: Mapped[datetime] = mapped_column(index=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
