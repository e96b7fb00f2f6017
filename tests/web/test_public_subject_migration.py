"""Migration 0010: people who existed before keep the `sub` applications have seen (their old
database id), nothing that refers to them is lost, and new people get random subjects."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from hub.core.db import Database
from hub.core.migrate import alembic_config, upgrade


def test_existing_users_keep_their_old_sub_and_new_users_get_a_random_one(database_url):
    database = Database(database_url)
    try:
        command.downgrade(alembic_config(database), "0009")
        with database.engine.begin() as connection:
            for user_id in (1, 2, 7):
                connection.execute(
                    text("INSERT INTO users (id, display_name, is_admin, created_at) VALUES (:id, 'P', false, :now)"),
                    {"id": user_id, "now": "2026-01-01 00:00:00+00:00"},
                )
            connection.execute(text(
                "INSERT INTO linked_accounts (user_id, provider_id, subject, issuer, email_verified, roles, profile,"
                " linked_at, needs_reauth) VALUES (7, 'fake', 'sub-7', 'https://idp', false, '[]', '{}',"
                " '2026-01-01 00:00:00+00:00', false)"
            ))
        upgrade(database)
        with database.engine.connect() as connection:
            subjects = dict(connection.execute(text("SELECT id, public_subject FROM users")).all())
            linked = connection.execute(text("SELECT count(*) FROM linked_accounts")).scalar()
        assert subjects == {1: "1", 2: "2", 7: "7"}
        assert linked == 1  # adding the column rebuilt nothing, cascaded nothing
        command.check(alembic_config(database))
    finally:
        database.dispose()
