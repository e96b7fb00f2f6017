"""SCIM provisioning: per-provider bearer tokens, provisioned users and groups, who disabled a user

A directory (Entra ID, Okta...) pushes joiners, movers and leavers over SCIM 2.0
(docs/provisioning.md). `users.disabled_by` says who disabled a user, so re-provisioning enables
only a user that provisioning disabled; users disabled before this revision count as an
administrator's.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_by", sa.String(length=80), nullable=True))
    op.execute("UPDATE users SET disabled_by = 'admin' WHERE disabled_at IS NOT NULL")
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_scim_tokens_prefix")),
    )
    op.create_index(op.f("ix_scim_tokens_provider_id"), "scim_tokens", ["provider_id"], unique=False)
    op.create_table(
        "provisioned_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.Column("user_name", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_provisioned_users_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioned_users")),
        sa.UniqueConstraint("provider_id", "external_id", name="uq_provisioned_users_provider_external_id"),
    )
    op.create_index(op.f("ix_provisioned_users_user_id"), "provisioned_users", ["user_id"], unique=False)
    op.create_index(
        "ix_provisioned_users_provider_user_name", "provisioned_users", ["provider_id", "user_name"], unique=False
    )
    op.create_table(
        "provisioned_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioned_groups")),
    )
    op.create_index(
        "ix_provisioned_groups_provider_display_name", "provisioned_groups", ["provider_id", "display_name"], unique=False
    )


def downgrade() -> None:
    op.drop_table("provisioned_groups")
    op.drop_table("provisioned_users")
    op.drop_table("scim_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_by")
