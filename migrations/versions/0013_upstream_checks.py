"""linked accounts remember when their provider last confirmed them (issue 19, pull)

The hub re-checks a linked account at its provider while it is in use (hub.upstream.checks):
when it last asked, when the provider last confirmed it, the outcome and the provider's error
code. All nullable: an account never checked is due at its next use.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("upstream_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("upstream_outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("upstream_error", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.drop_column("upstream_error")
        batch_op.drop_column("upstream_outcome")
        batch_op.drop_column("upstream_confirmed_at")
        batch_op.drop_column("upstream_checked_at")
