"""The database connection: engine set-up per backend, sessions, and schema-version checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from hub.core.errors import ConfigError

IMMEDIATE = "hub_immediate"
"""Execution option: on SQLite, begin the transaction with BEGIN IMMEDIATE so that it takes
the write lock at once (the SQLite counterpart of SELECT ... FOR UPDATE)."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the hub's per-backend settings (SQLite: foreign keys, WAL).

    `hide_parameters`: a failed statement's error names the SQL, never its values, which are
    people's names and addresses (and would print in the error log)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(
            f"database_url: expected a SQLAlchemy URL such as sqlite:///hub.sqlite3 or "
            f"postgresql+psycopg://user@host/db, got {url!r}"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)
    raise ConfigError(f"database_url: expected sqlite or postgresql, got {parsed.drivername}")


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(IMMEDIATE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The engine and session factory of one app (kept in app.extensions["hub.core.db"])."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for work outside a request (CLI, background); closed afterwards."""
        with self.sessions() as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection for a read that needs no ORM objects (a request's credential check):
        no Session to build and tear down on a path every request of an API takes."""
        with self.engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def write_transaction(database: Database) -> Iterator[Session]:
    """A session in a transaction that holds the write lock from its first statement.

    Commits when the block ends, rolls back on an exception. On SQLite it begins with BEGIN
    IMMEDIATE, so a transaction that reads and then writes (the audit head, a refresh) can never
    fail half-way on a lock upgrade; on PostgreSQL it is an ordinary transaction, and row or
    advisory locks do the serialising.
    """
    with database.session() as session, session.begin():
        if database.is_sqlite:
            session.connection(execution_options={IMMEDIATE: True})
        yield session


def upsert_insert(session: Session, model: type) -> Any:
    """An INSERT for `model` in the session's dialect, which has `on_conflict_do_nothing` and
    `on_conflict_do_update` (PostgreSQL and SQLite both say ON CONFLICT): for rows two
    concurrent requests may both create, where a plain INSERT would fail one of them."""
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(model)

