"""audit protection: append-only triggers on audit_events and the retention gate

The triggers refuse every UPDATE of audit_events and every DELETE unless a row of
audit_retention_gate covers the deleted event's seq. (TRUNCATE is a privilege matter: the
application's database role should not hold it; the test fixtures use it to reset tables.) Only
hub.audit.prune opens the gate, inside the same transaction as its deletion and seal, and
closes it before committing, so no other transaction ever sees it open. Triggers guard against
the application's own mistakes; the keyed MAC chain (hub.audit.verify) is what detects a
database administrator who drops them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    """
    CREATE TRIGGER audit_events_refuse_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_events_refuse_delete BEFORE DELETE ON audit_events
    WHEN NOT EXISTS (SELECT 1 FROM audit_retention_gate WHERE OLD.seq <= through_seq)
    BEGIN
        SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused (only hub audit prune)');
    END
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_events_refuse_delete",
    "DROP TRIGGER IF EXISTS audit_events_refuse_update",
]

POSTGRESQL_UP = [
    """
    CREATE OR REPLACE FUNCTION hub_audit_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (
            SELECT 1 FROM audit_retention_gate WHERE OLD.seq <= through_seq
        ) THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION 'audit_events is append-only: UPDATE refused'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: DELETE refused (only hub audit prune)'
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION hub_audit_events_append_only()
    """,
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP FUNCTION IF EXISTS hub_audit_events_append_only()",
]


def _statements(sqlite: list[str], postgresql: list[str]) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite
    if dialect == "postgresql":
        return postgresql
    raise NotImplementedError(f"audit protection triggers: unsupported database {dialect}")


def upgrade() -> None:
    op.create_table(
        "audit_retention_gate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_retention_gate")),
    )
    for statement in _statements(SQLITE_UP, POSTGRESQL_UP):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(SQLITE_DOWN, POSTGRESQL_DOWN):
        op.execute(statement)
    op.drop_table("audit_retention_gate")
