"""SCIM provisioning: the bearer tokens a directory pushes with, and the users and groups it pushed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.models.base import Base, utcnow
from hub.core.models.people import User


def new_scim_id() -> str:
    """A SCIM resource id: random, so it says nothing about the person or the row count."""
    return str(uuid.uuid4())


class ScimToken(Base):
    """A provider's SCIM bearer token, stored as the SHA-256 of its secret (hub.core.scim_tokens)."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ProvisionedUser(Base):
    """A user the provider's directory pushed: its SCIM resource, keyed by the provider's
    immutable id (`external_id`), and the hub user it provisions (whose linked account is
    (provider_id, the subject the provider's sign-in produces for that id))."""

    __tablename__ = "provisioned_users"
    __table_args__ = (
        UniqueConstraint("provider_id", "external_id", name="uq_provisioned_users_provider_external_id"),
        Index("ix_provisioned_users_provider_user_name", "provider_id", "user_name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_scim_id)
    provider_id: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(256))
    user_name: Mapped[str] = mapped_column(String(256))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    resource: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The SCIM attributes as last pushed (display data only; identity is `external_id`)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    user: Mapped[User] = relationship()


class ProvisionedGroup(Base):
    """A group the provider's directory pushed; its members' hub roles follow the provider's
    `scim_group_roles` mapping of the group's display name."""

    __tablename__ = "provisioned_groups"
    __table_args__ = (Index("ix_provisioned_groups_provider_display_name", "provider_id", "display_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_scim_id)
    provider_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256))
    members: Mapped[list[str]] = mapped_column(default=list)
    """The SCIM ids of the member users (sorted)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
