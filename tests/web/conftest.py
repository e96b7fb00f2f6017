"""Fixtures of the web tests (tests/README.md): the hub's runtime of the `app` fixture, and a
test client signed in as alice, the first person and so the administrator. `app`, `client` and
`idp` (the fake OIDC provider) are tests/conftest.py's."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in


@pytest.fixture
def rt(app):
    return app.extensions["hub"]


@pytest.fixture
def admin(app, idp):
    client = app.test_client()
    sign_in(client, idp, "alice")
    return client
