"""Fixtures of the web tests (tests/README.md): the hub's runtime of the `app` fixture, a
test client signed in as alice, the first person and so the administrator, and `hub_cli` to run
the `hub` command in-process against the same database. `app`, `client` and `idp` (the fake
OIDC provider) are tests/conftest.py's."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.cli.main import LazyRuntime, build_cli
from hub.core.config import load_settings
from tests.conftest import sign_in


@pytest.fixture
def rt(app):
    return app.extensions["hub"]


@pytest.fixture
def admin(app, idp):
    client = app.test_client()
    sign_in(client, idp, "alice")
    return client


@pytest.fixture
def hub_cli(hub_config, plugins, app):
    """Run `hub ...` in-process against the test's database; returns click's Result."""
    settings = load_settings(environ={}, overrides=hub_config)
    group = build_cli(plugins)

    def run(*args: str, input: str | None = None):
        lazy = LazyRuntime(plugins, settings)
        try:
            return CliRunner().invoke(group, list(args), obj=lazy, input=input)
        finally:
            if lazy._runtime is not None:
                lazy._runtime.close()

    return run
