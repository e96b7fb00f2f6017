"""Schema migrations through Alembic: upgrade, current revision, and the "is it current" check."""

from __future__ import annotations

import functools
import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.core.db import Database
from hub.core.resources import migrations_dir


class _NoContextChatter(logging.Filter):
    """Alembic says "Context impl PostgresqlImpl." and "Will assume transactional DDL." at INFO
    each time a migration context is built: once per /readyz probe, every few seconds, in every
    worker. They say nothing an operator needs; "Running upgrade ..." lines stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_NoContextChatter())


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    command.upgrade(alembic_config(database), revision)


def head_revisions(database: Database) -> set[str]:
    return set(_script_heads(str(migrations_dir())))


@functools.cache
def _script_heads(location: str) -> frozenset[str]:
    """The migrations shipped with this process cannot change while it runs, so /readyz reads
    them once rather than at every probe."""
    config = Config()
    config.set_main_option("script_location", location)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def current_revisions(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def pending_message(database: Database) -> str | None:
    """Why this database cannot be served yet, or None when its schema is current."""
    current, heads = current_revisions(database), head_revisions(database)
    if current == heads:
        return None
    if not current:
        return "the database has no tables yet: run `hub db upgrade` first"
    return (
        f"the database is at revision {', '.join(sorted(current))} but this hub needs "
        f"{', '.join(sorted(heads))}: run `hub db upgrade`"
    )
