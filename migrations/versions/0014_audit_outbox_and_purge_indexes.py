"""the audit outbox; the indexes hub db purge's batched deletes need

`audit_pending` holds audited events written on the request path without the chain's lock,
until the chainer links them into audit_events (hub.core.audit.chainer, issue 21). The purge
deletes spent refresh tokens by used_at and ended token families by expires_at / revoked_at:
without these indexes each batch was a sequential scan.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    op.create_index("ix_refresh_tokens_used_at", "refresh_tokens", ["used_at"])
    op.create_index("ix_token_families_expires_at", "token_families", ["expires_at"])
    op.create_index("ix_token_families_revoked_at", "token_families", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_token_families_revoked_at", table_name="token_families")
    op.drop_index("ix_token_families_expires_at", table_name="token_families")
    op.drop_index("ix_refresh_tokens_used_at", table_name="refresh_tokens")
    op.drop_table("audit_pending")
