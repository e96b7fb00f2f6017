"""Fixtures of the end-to-end tests (tests/README.md): the environment of a `hub` command run as a
subprocess. The Entra emulator, the fake GitHub, the fake OIDC provider and the hub on a real
socket are tests/conftest.py's, shared with the browser tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

OFFLINE_HINT = (
    "uv's cache lacks the package-index data these installs read (tests never use the network). "
    "Fill it once with `uv pip compile --universal pyproject.toml --all-extras -o /dev/null` "
    "(it reads PyPI), as .ci/run does."
)


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def uv() -> str:
    """uv, with the package-index data the packaging tests install from in its cache.

    Every install the tests make runs with UV_OFFLINE. On a machine whose cache has never
    resolved this project (a fresh one: `uv run` installs from the lock without reading the
    index), this fills it first, which is set-up like `uv sync` and the suite's only read of PyPI.
    """
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is needed to build and install wheels")
    fill = [found, "pip", "compile", "--universal", str(ROOT / "pyproject.toml"), "--all-extras", "--quiet", "--output-file", os.devnull]
    if subprocess.run([*fill, "--offline"], capture_output=True, timeout=120).returncode != 0:  # noqa: S603
        subprocess.run(fill, capture_output=True, timeout=300)  # noqa: S603 - a failure shows as OFFLINE_HINT
    return found


def run(*args: str, timeout: int = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command and require success. uv reads only its cache (UV_OFFLINE): building wheels
    and installing them into fresh venvs must not reach beyond 127.0.0.1 either."""
    kwargs["env"] = {**(kwargs.get("env") or os.environ), "UV_OFFLINE": "1"}
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # noqa: S603
    hint = OFFLINE_HINT if "network was disabled" in result.stderr else ""
    assert result.returncode == 0, f"{args}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}\n{hint}"
    return result


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"HUB_INSTANCE_PATH": str(tmp_path / "instance"), "HUB_DOTENV": str(tmp_path / "none.env"), "CWD": str(tmp_path)}
