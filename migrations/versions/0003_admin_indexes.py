"""admin console indexes: keyset pages, filters, searches and the sign-in chart

The linked-accounts list pages by (sort column, id) without OFFSET, so each sort and the
provider and "needs sign-in again" filters have an index ending in id. Search is a
case-insensitive prefix match on email and display name plus an exact subject: on
PostgreSQL a `lower(column) text_pattern_ops` index serves `lower(column) LIKE 'x%'` under
any database collation; on SQLite the same-named index is built as `column COLLATE NOCASE`,
the form SQLite's LIKE optimisation uses (SQLite cannot reflect expression indexes, so the
expression form would also break `alembic check`). The audit indexes serve a user's recent
events (as actor) and the 30-day sign-in chart from the index alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLAIN = [
    ("ix_linked_accounts_linked_at", "linked_accounts", ["linked_at", "id"]),
    ("ix_linked_accounts_provider_linked_at", "linked_accounts", ["provider_id", "linked_at", "id"]),
    ("ix_linked_accounts_last_sign_in_at", "linked_accounts", ["last_sign_in_at", "id"]),
    ("ix_linked_accounts_needs_reauth", "linked_accounts", ["needs_reauth", "linked_at", "id"]),
    ("ix_linked_accounts_subject", "linked_accounts", ["subject"]),
    ("ix_audit_events_actor_user_id", "audit_events", ["actor_user_id"]),
    ("ix_audit_events_type_occurred_at", "audit_events", ["type", "occurred_at", "provider_id", "outcome"]),
]
SEARCH = [
    ("ix_linked_accounts_email_search", "linked_accounts", "email"),
    ("ix_linked_accounts_display_name_search", "linked_accounts", "display_name"),
]


def upgrade() -> None:
    for name, table, columns in PLAIN:
        op.create_index(name, table, columns, unique=False)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, column in SEARCH:
        if sqlite:
            op.execute(f"CREATE INDEX {name} ON {table} ({column} COLLATE NOCASE)")
        else:
            op.execute(f"CREATE INDEX {name} ON {table} (lower({column}) text_pattern_ops)")


def downgrade() -> None:
    for name, table, _column in reversed(SEARCH):
        op.drop_index(name, table_name=table)
    for name, table, _columns in reversed(PLAIN):
        op.drop_index(name, table_name=table)
