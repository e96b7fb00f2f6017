"""Probes, migrations that agree with the models, and the refusal to serve an old schema."""

from __future__ import annotations

import json
import logging

import alembic.config
import pytest
from alembic import command

from hub.app import create_app
from hub.core.config import load_settings
from hub.core.db import Database
from hub.core.migrate import alembic_config, pending_message
from hub.errors import ConfigError


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready"}


def test_models_and_migrations_agree(database_url):
    database = Database(database_url)
    try:
        assert pending_message(database) is None
        command.check(alembic_config(database))  # raises when autogenerate finds a difference
    finally:
        database.dispose()


def test_app_refuses_an_unmigrated_database(tmp_path, plugins):
    settings = load_settings(environ={}, overrides={"instance_path": str(tmp_path), "database_url": f"sqlite:///{tmp_path}/new.sqlite3"})
    with pytest.raises(ConfigError, match=r"run `hub db upgrade` first"):
        create_app(settings=settings, plugins=plugins)


def test_readyz_reports_an_outdated_schema(app, client, monkeypatch):
    monkeypatch.setattr("hub.web.views.health.migrate.pending_message", lambda db: "the database is at revision 0001 but this hub needs 0009")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "0009" in response.get_json()["reason"]


def test_sqlite_runs_with_foreign_keys_and_wal(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/x.sqlite3")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database.dispose()


def test_json_logs_carry_the_request_id(hub_config, plugins, capsys):
    # The id a trusted proxy sent (a client's own is not taken: tests/web/test_logs_and_hosts.py).
    settings = load_settings(environ={}, overrides={**hub_config, "log_format": "json", "trusted_proxies": 1})
    app = create_app(settings=settings, plugins=plugins)
    try:

        @app.get("/log-something")
        def log_something():
            logging.getLogger("hub.test").warning("hello from a request")
            return "ok"

        response = app.test_client().get("/log-something", headers={"X-Request-ID": "req-12345678"})
        assert response.status_code == 200
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        entry = next(line for line in lines if line["message"] == "hello from a request")
        assert entry["request_id"] == "req-12345678"
        assert entry["level"] == "WARNING"
    finally:
        app.extensions["hub"].close()
        from hub.web import logs

        logs.configure("text", "INFO")


def roles_migration() -> tuple[str, str]:
    """(revision, down_revision) of the migration that turned roles into lists."""
    from alembic.script import ScriptDirectory

    from hub.core.resources import migrations_dir

    config = alembic.config.Config()
    config.set_main_option("script_location", str(migrations_dir()))
    [script] = [s for s in ScriptDirectory.from_config(config).walk_revisions() if s.doc.startswith("roles as lists")]
    return script.revision, script.down_revision


def test_the_roles_migration_turns_stored_objects_into_lists_and_back(database_url):
    from sqlalchemy import text

    revision, before = roles_migration()
    database = Database(database_url)
    config = alembic_config(database)
    try:
        command.downgrade(config, before)
        now = "2026-01-01 00:00:00+00:00"
        with database.engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, is_admin, created_at) VALUES (1, false, :now)"), {"now": now})
            for account_id, roles in ((1, '{"roles": ["admin", "auditor"]}'), (2, "{}"), (3, '{"roles": []}')):
                connection.execute(
                    text(
                        "INSERT INTO linked_accounts (id, user_id, provider_id, subject, issuer, email_verified, roles, profile, linked_at, needs_reauth) "
                        "VALUES (:id, 1, 'p', :subject, 'i', false, :roles, '{}', :now, false)"
                    ),
                    {"id": account_id, "subject": f"s{account_id}", "roles": roles, "now": now},
                )
            connection.execute(
                text("INSERT INTO sessions (id_hash, user_id, roles, created_at, last_seen_at, expires_at) VALUES ('h', 1, :roles, :now, :now, :now)"),
                {"roles": '{"roles": ["admin"]}', "now": now},
            )
        command.upgrade(config, revision)

        def stored() -> tuple[list, list]:
            with database.engine.connect() as connection:
                accounts = [json.loads(r) if isinstance(r, str) else r for r in connection.scalars(text("SELECT roles FROM linked_accounts ORDER BY id"))]
                web = [json.loads(r) if isinstance(r, str) else r for r in connection.scalars(text("SELECT roles FROM sessions"))]
            return accounts, web

        assert stored() == ([["admin", "auditor"], [], []], [["admin"]])
        command.downgrade(config, before)
        assert stored() == ([{"roles": ["admin", "auditor"]}, {"roles": []}, {"roles": []}], [{"roles": ["admin"]}])
    finally:
        command.upgrade(config, "head")
        with database.engine.begin() as connection:
            connection.execute(text("DELETE FROM sessions"))
            connection.execute(text("DELETE FROM linked_accounts"))
            connection.execute(text("DELETE FROM users"))
        database.dispose()


def test_the_auth_method_migration_lets_default_registrations_use_basic_or_post_and_back(database_url):
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    database = Database(database_url)
    config = alembic_config(database)
    [script] = [s for s in ScriptDirectory.from_config(config).walk_revisions()
                if s.doc.startswith("default client authentication by basic or post")]
    columns = ("client_id, name, token_endpoint_auth_method, first_party, redirect_uris, post_logout_redirect_uris, "
               "grant_types, allowed_scopes, id_token_signed_response_alg, pairwise_subject, created_at, updated_at")
    try:
        command.downgrade(config, script.down_revision)
        with database.engine.begin() as connection:
            for client_id, method in (("a", "client_secret_basic"), ("b", "client_secret_post"), ("c", "none")):
                connection.execute(
                    text(f"INSERT INTO applications ({columns}) VALUES (:client_id, :client_id, :method, false, "
                         "'{}', '{}', '{}', 'openid', 'RS256', false, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"),
                    {"client_id": client_id, "method": method},
                )
        command.upgrade(config, script.revision)

        def stored() -> list[str]:
            with database.engine.connect() as connection:
                return list(connection.scalars(text("SELECT token_endpoint_auth_method FROM applications ORDER BY client_id")))

        assert stored() == ["client_secret_basic_or_post", "client_secret_post", "none"]
        command.downgrade(config, script.down_revision)
        assert stored() == ["client_secret_basic", "client_secret_post", "none"]
    finally:
        command.upgrade(config, "head")
        with database.engine.begin() as connection:
            connection.execute(text("DELETE FROM applications"))
        database.dispose()
