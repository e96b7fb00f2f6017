"""public subject identifiers for users

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00

Every existing user gets their database id, as text, as their public subject: that is the
`sub` applications have seen so far, and an application may know a person by it even when no
grant row shows it today (access removed, then granted again), so no existing `sub` changes.
Users created from now on get a random one (hub.models.new_public_subject).

SQLite: the column is added in place (NOT NULL with an empty default, filled at once) and the
uniqueness is an index, because rebuilding `users` with foreign keys on would cascade-delete
every row that refers to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = sa.table("users", sa.column("id", sa.Integer()), sa.column("public_subject", sa.String(64)))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "users",
        sa.Column("public_subject", sa.String(length=64), nullable=not sqlite, server_default="" if sqlite else None),
    )
    op.execute(USERS.update().values(public_subject=sa.cast(USERS.c.id, sa.String(64))))
    if not sqlite:
        op.alter_column("users", "public_subject", nullable=False)
    op.create_index("ix_users_public_subject", "users", ["public_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_public_subject", table_name="users")
    op.execute("ALTER TABLE users DROP COLUMN public_subject")
