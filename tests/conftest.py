"""Fixtures every kind of test shares (tests/README.md says which fixture lives where): a migrated
database per test (SQLite, or PostgreSQL when HUB_TEST_DATABASE_URL is set), an app with the fake
provider plugin and its test client, helpers that sign a user in, and the one fixture each for the
fake OIDC provider (`idp`), the Entra emulator (`emulator`), the fake GitHub (`github`) and the hub
on a real socket (`live_hub`, and `issuer` built on it)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import text

from hub.app import create_app
from hub.core.config import load_settings
from hub.core.db import Database
from hub.core.migrate import upgrade
from hub.core.models import Base
from hub.plugin.manager import Plugins, load_plugins
from hub.runtime import open_database
from hub_entra.emulator import EntraEmulator
from hub_github.fake import FakeGitHub
from tests import fakeidp
from tests.issuer_kit import IssuerKit
from tests.live import serve

BASE_URL = "http://localhost:5001"


def _worker_database_url() -> str | None:
    """HUB_TEST_DATABASE_URL, or under pytest-xdist a database of this worker's own beside it on
    the same server (`<name>_gw0`, `<name>_gw1`, created when missing), so that workers never
    truncate each other's tables. The environment variable is set to it, so tests that hand the
    database to a `hub` subprocess use the worker's too."""
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker or not url.startswith("postgresql"):
        return url
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    if base.database.endswith(f"_{worker}"):
        return url  # already this worker's (a hub subprocess re-reading the environment)
    name = f"{base.database}_{worker}"
    server = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    own = base.set(database=name).render_as_string(hide_password=False)
    os.environ["HUB_TEST_DATABASE_URL"] = own
    return own


PG_URL = _worker_database_url()


SQLITE_ONLY = (
    "providers/",  # the plugin kit's apps and the emulator: SQLite files of their own
    "tests/browser/test_browser_demo.py", "tests/browser/test_browser_leavers.py",  # `hub demo`: SQLite
    "tests/e2e/test_newcomer.py", "tests/e2e/test_plugin_new.py", "tests/e2e/test_plugin_install.py",
    "tests/e2e/test_wheel.py",
    "tests/unit/test_house.py", "tests/unit/test_conformance_kit.py", "tests/unit/test_kit_mutations.py",
    "tests/unit/test_kit_parts.py", "tests/unit/test_kit_strict.py", "tests/unit/test_oidc_public_names.py",
    "tests/unit/test_protocol_toolkit.py", "tests/unit/test_reference_docs.py", "tests/unit/test_plugins.py",
)
"""Modules whose tests never reach the PostgreSQL server (their hubs run on SQLite files of their
own, or on no database): the PostgreSQL pass would repeat the SQLite pass's work exactly."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass (HUB_TEST_DATABASE_URL) leaves out the SQLITE_ONLY modules' tests, unless
    a test takes the `database_url` fixture (every app, CLI and database the suite builds on the
    pass's server comes from it) or is marked `postgresql` (it reads the URL itself). It keeps the
    CI run within its 20 minutes on a slow machine."""
    if not PG_URL:
        return
    dropped = [
        item for item in items
        if item.nodeid.startswith(SQLITE_ONLY)
        and "database_url" not in getattr(item, "fixturenames", ())
        and not item.get_closest_marker("postgresql")
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(map(id, dropped))
        items[:] = [item for item in items if id(item) not in gone]


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept in memory for the test process. Every test builds an app of its
    own, and each app's Jinja environment compiled the same templates again (about a tenth of a
    second per test that renders a page); Jinja checks each template's source against the
    bucket's checksum, so an edited template is compiled afresh."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def _compiled_templates_shared() -> Iterator[None]:
    """Every app of the run shares compiled templates (_SharedBytecode)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": _SharedBytecode()})
        yield


@pytest.fixture(scope="session")
def _template_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run: a SQLite file to copy per test, or the PostgreSQL database."""
    if PG_URL:
        database = Database(PG_URL)
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade(database)
        database.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "hub.sqlite3"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return str(path)


@pytest.fixture
def database_url(_template_database: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if PG_URL:
        database = Database(PG_URL)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with database.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        database.dispose()
        yield PG_URL
        return
    path = tmp_path / "hub.sqlite3"
    shutil.copyfile(_template_database, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The test's fresh, migrated database as a hub Database (pool sized for the
    many-thread refresh and audit tests)."""
    database = open_database(database_url, pool_size=10, max_overflow=60)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def _inline_audit_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite reads audit_events right after each action, so its hubs chain inline (also on
    PostgreSQL, where production's default is the outbox). The outbox and its chainer are tested
    on their own (tests/unit/test_audit_outbox.py) and by hubs given audit_chaining="deferred"."""
    from hub.core import config

    monkeypatch.setitem(config._SCALARS, "audit_chaining", ("str", "inline"))


@pytest.fixture
def plugins() -> Plugins:
    manager = load_plugins(discover=False)
    manager.register(fakeidp, "fake", "tests-fake-provider", "0")
    return manager


@pytest.fixture
def hub_config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    return {
        "instance_path": str(tmp_path / "instance"),
        "database_url": database_url,
        "base_url": BASE_URL,
        "providers": {
            "fake": {"type": "fake", "name": "Fake IdP", "client_id": "hub", "client_secret": "fake-client-secret"},
            "fake2": {"type": "fake", "name": "Second IdP", "client_id": "hub", "client_secret": "fake-client-secret"},
        },
    }


@pytest.fixture
def app(hub_config: dict[str, Any], plugins: Plugins) -> Iterator[Flask]:
    settings = load_settings(environ={}, overrides=hub_config)
    app = create_app(settings=settings, plugins=plugins)
    yield app
    app.extensions["hub"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def idp() -> Iterator[fakeidp.FakeIdP]:
    """The fake upstream OpenID provider (tests/fakeidp.py), mocked with `responses`; requests to
    a hub on a loopback port (`live_hub`, `issuer`) pass through to it."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+/"))
        yield fakeidp.FakeIdP(mock)


@pytest.fixture
def emulator() -> Iterator[EntraEmulator]:
    """The Entra emulator (hub_entra.emulator) on a free loopback port."""
    with EntraEmulator() as running:
        yield running


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """The fake GitHub (hub_github.fake) on a free loopback port."""
    with FakeGitHub() as fake:
        yield fake


LiveHub = Callable[..., tuple[str, Flask]]


@pytest.fixture
def live_hub(tmp_path: Path, database_url: str) -> Iterator[LiveHub]:
    """Start the hub on a free 127.0.0.1 port: `live_hub(providers, plugins)` returns
    (base_url, app). `providers(base_url)` returns the [providers] tables (it is called once the
    address is known, so it can register redirect URIs with a fake first); `plugins` is a plugin
    manager or the names of installed plugins to load from their entry points; keyword arguments
    are further settings. Every hub started stops, and returns its database connections, at
    teardown."""
    with ExitStack() as started:

        def start(providers: Callable[[str], dict[str, Any]], plugins: Plugins | Sequence[str], **settings: Any) -> tuple[str, Flask]:
            def make_app(base_url: str) -> Flask:
                overrides = {"instance_path": str(tmp_path / "instance"), "database_url": database_url, **settings,
                             "base_url": base_url, "providers": providers(base_url)}  # fmt: skip
                manager = plugins if isinstance(plugins, Plugins) else load_plugins(tuple(plugins))
                return create_app(settings=load_settings(environ={}, overrides=overrides), plugins=manager)

            return started.enter_context(serve(make_app))

        yield start


@pytest.fixture
def issuer(hub_config: dict[str, Any], plugins: Plugins, idp: fakeidp.FakeIdP, live_hub: LiveHub) -> IssuerKit:
    """The hub as OpenID Provider on a loopback port (base_url = its address, the issuer), with
    the fake upstream provider of `hub_config`, and a browser (tests/issuer_kit.py)."""
    settings = {key: value for key, value in hub_config.items() if key not in ("base_url", "providers")}
    base_url, app = live_hub(lambda _base_url: hub_config["providers"], plugins, **settings)
    return IssuerKit(app, base_url, idp)


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page renders for this browser."""
    html = client.get(path).get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def start_signin(client: FlaskClient, provider: str = "fake", **form: str) -> str:
    """POST the sign-in button; returns the provider authorization URL the hub redirects to."""
    token = csrf_of(client, "/account" if form.get("intent") == "link" else "/login")
    response = client.post(f"/auth/{provider}/start", data={"csrf_token": token, **form})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sign_in(client: FlaskClient, idp: fakeidp.FakeIdP, user: str = "alice", **form: str) -> Any:
    """A whole sign-in through the fake provider; returns the callback's response."""
    authorization_url = start_signin(client, **form)
    return client.get(callback_path(idp.authorize(authorization_url, user)))


def away_from_a_window_edge(margin: float = 15.0) -> None:
    """Wait, when the clock is within `margin` seconds of a minute's end, for the next minute.
    The hub's limiter counts per-minute limits in a sliding window *counter*: a burst that
    straddles the boundary is weighted partly into the previous window, so an exact "the
    fourth is refused" assertion needs the whole burst inside one window."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.05)
