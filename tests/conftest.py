"""Fixtures: a migrated database per test (SQLite, or PostgreSQL when HUB_TEST_DATABASE_URL is
set), an app with the fake provider plugin, a client, and a helper that signs a user in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from hub.app import create_app
from hub.config import load_settings
from hub.db import Database
from hub.migrate import upgrade
from hub.models import Base
from hub.plugins import Plugins, load_plugins
from tests import fakeidp
from tests.issuer_kit import issuer, issuer_idp  # noqa: F401 - fixtures for the issuer side's tests

BASE_URL = "http://localhost:5001"
PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")


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
    database = Database(database_url, pool_size=10, max_overflow=60)
    yield database
    database.dispose()


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
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield fakeidp.FakeIdP(mock)


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


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Debian's), shared by the browser tests of a run."""
    from tests.live import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def demo_banner(tmp_path) -> Iterator[dict[str, str]]:
    """`hub demo` (the README's first command) on free ports; yields the addresses its banner
    prints: {"hub": ..., "Example app A": ..., "Example app B": ...}."""
    import re
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [
            sys.executable, "-c", "from hub.cli import main; main()", "demo",
            "--port", "0", "--emulator-port", "0", "--example-port", "0", "--second-example-port", "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HUB_INSTANCE_PATH": str(tmp_path / "instance")},
    )
    output = []
    addresses: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(addresses) < 3:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            hub = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
            app = re.search(r"(Example app [AB]) at (http://127\.0\.0\.1:\d+)/", line)
            if hub:
                addresses["hub"] = hub.group(1)
            if app:
                addresses[app.group(1)] = app.group(2)
        assert len(addresses) == 3, "hub demo did not print its addresses:\n" + "".join(output)
        yield addresses
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def demo(demo_banner: dict[str, str]) -> str:
    """The hub's address in `hub demo`."""
    return demo_banner["hub"]
