"""Fixtures of the end-to-end tests (tests/README.md): the environment of a `hub` command run as a
subprocess. The Entra emulator, the fake GitHub, the fake OIDC provider and the hub on a real
socket are tests/conftest.py's, shared with the browser tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"HUB_INSTANCE_PATH": str(tmp_path / "instance"), "HUB_DOTENV": str(tmp_path / "none.env"), "CWD": str(tmp_path)}
