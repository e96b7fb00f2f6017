"""bounded storage: pending sign-ins per browser (index), seen back-channel logout tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_pending_signins_browser_hash"), "pending_signins", ["browser_hash"], unique=False)
    op.create_table(
        "seen_logout_tokens",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", "jti_hash", name=op.f("pk_seen_logout_tokens")),
    )
    op.create_index(op.f("ix_seen_logout_tokens_expires_at"), "seen_logout_tokens", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_seen_logout_tokens_expires_at"), table_name="seen_logout_tokens")
    op.drop_table("seen_logout_tokens")
    op.drop_index(op.f("ix_pending_signins_browser_hash"), table_name="pending_signins")
