"""People and their accounts: the local person, each linked (provider, subject) account, its sealed tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, column, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.models.base import Base, new_public_subject, utcnow


class User(Base):
    """The local person. Created at first sign-in; every linked account points here."""

    __tablename__ = "users"
    # A unique index, not a constraint: SQLite adds it without rebuilding the table (migration 0010).
    __table_args__ = (Index("ix_users_public_subject", "public_subject", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_subject: Mapped[str] = mapped_column(String(64), default=new_public_subject)
    """The `sub` applications know this person by (hub.issuer.claims.subject_for): random for
    users created since migration 0010, the old database id (as text) for earlier ones, whose
    `sub` applications had already seen. Never reused, never parsed."""
    display_name: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    """Granted with `hub admin grant`; an admin role from a provider also admits."""
    disabled_at: Mapped[datetime | None]
    disabled_by: Mapped[str | None] = mapped_column(String(80))
    """Who disabled the user: `provisioning` (a directory over SCIM, which may enable them again)
    or `admin` (stays until an administrator lifts it); None while enabled."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    linked_accounts: Mapped[list[LinkedAccount]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class LinkedAccount(Base):
    """(provider id, subject) -> user. The subject is the provider's immutable id."""

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("provider_id", "subject", name="uq_linked_accounts_provider_subject"),
        # The admin console's keyset pages, filters and searches (migration 0003).
        Index("ix_linked_accounts_linked_at", "linked_at", "id"),
        Index("ix_linked_accounts_provider_linked_at", "provider_id", "linked_at", "id"),
        Index("ix_linked_accounts_last_sign_in_at", "last_sign_in_at", "id"),
        Index("ix_linked_accounts_needs_reauth", "needs_reauth", "linked_at", "id"),
        Index("ix_linked_accounts_subject", "subject"),
        # Case-insensitive prefix search: lower(...) text_pattern_ops on PostgreSQL; on SQLite
        # the migration builds the same-named index as `column COLLATE NOCASE`, which is what
        # SQLite's LIKE optimisation needs (it cannot reflect expression indexes).
        Index(
            "ix_linked_accounts_email_search",
            func.lower(column("email")),
        ),
        Index(
            "ix_linked_accounts_display_name_search",
            func.lower(column("display_name")),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    issuer: Mapped[str] = mapped_column(String(512))
    tenant: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    roles: Mapped[list[str]] = mapped_column(default=list)
    """Hub roles (sorted) as mapped by the provider at the last sign-in."""
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Display data from the provider (never identifying); providers own no tables."""
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    needs_reauth: Mapped[bool] = mapped_column(default=False)
    upstream_checked_at: Mapped[datetime | None]
    """When the hub last asked the provider whether this account still stands (hub.upstream.checks)."""
    upstream_confirmed_at: Mapped[datetime | None]
    """When the provider last confirmed it (a refresh or the provider's account check succeeded)."""
    upstream_outcome: Mapped[str | None] = mapped_column(String(16))
    """The last check's outcome: confirmed, refused, transient or unsupported (hub.upstream.checks.OUTCOMES)."""
    upstream_error: Mapped[str | None] = mapped_column(String(64))
    """The provider's error code of the last refused or transient check (e.g. AADSTS50057)."""

    user: Mapped[User] = relationship(back_populates="linked_accounts")
    token_set: Mapped[TokenSet | None] = relationship(
        back_populates="linked_account", cascade="all, delete-orphan", passive_deletes=True
    )


class TokenSet(Base):
    """A linked account's tokens, as AEAD ciphertext bound to this row (see hub.upstream.vault)."""

    __tablename__ = "token_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    linked_account_id: Mapped[int] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"), unique=True
    )
    key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None]
    scopes_granted: Mapped[str] = mapped_column(Text, default="")
    scopes_requested: Mapped[str] = mapped_column(Text, default="")
    last_refresh_at: Mapped[datetime | None]
    refresh_failures: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    linked_account: Mapped[LinkedAccount] = relationship(back_populates="token_set")
