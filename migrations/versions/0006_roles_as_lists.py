"""roles as lists: linked_accounts.roles and sessions.roles hold ["admin", ...], not {"roles": [...]}

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 13:55:00

A data migration: the columns stay JSON. Rows that already hold a list (or anything that is
not the old object) are left alone, so the upgrade is idempotent; a missing "roles" key
becomes the empty list.
"""

# ruff: noqa: S608 - the only interpolated names are the constant TABLES

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("linked_accounts", "sessions")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(
                f"UPDATE {table} SET roles = COALESCE(roles -> 'roles', '[]'::json) "
                f"WHERE json_typeof(roles) = 'object'"
            )
        else:
            op.execute(
                f"UPDATE {table} SET roles = COALESCE(json_extract(roles, '$.roles'), '[]') "
                f"WHERE json_type(roles) = 'object'"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(
                f"UPDATE {table} SET roles = json_build_object('roles', roles) WHERE json_typeof(roles) = 'array'"
            )
        else:
            op.execute(
                f"UPDATE {table} SET roles = json_object('roles', json(roles)) WHERE json_type(roles) = 'array'"
            )
