"""default client authentication by basic or post; the sid a token family was issued in

Applications registered without an explicit token endpoint auth method were stored as
`client_secret_basic`; they now accept the secret either way (`client_secret_basic_or_post`).
An explicit `client_secret_basic` registration cannot be told apart from the default and is
widened too (same secret, same TLS channel). Token families keep the sid of the hub session
they were issued in (`origin_sid`), also when they outlive it (offline), so a refresh's ID
token names the same sid as the first one (OpenID Connect Core §12.2).

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("token_families", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_sid", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE token_families SET origin_sid = COALESCE(sid, (SELECT authorization_codes.sid "
        "FROM authorization_codes WHERE authorization_codes.code_hash = token_families.code_hash))"
    )
    op.execute(
        "UPDATE applications SET token_endpoint_auth_method = 'client_secret_basic_or_post' "
        "WHERE token_endpoint_auth_method = 'client_secret_basic'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE applications SET token_endpoint_auth_method = 'client_secret_basic' "
        "WHERE token_endpoint_auth_method = 'client_secret_basic_or_post'"
    )
    with op.batch_alter_table("token_families", schema=None) as batch_op:
        batch_op.drop_column("origin_sid")
