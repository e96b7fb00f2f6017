"""Fixtures of the end-to-end tests (tests/README.md): the environment of a `hub` command run as a
subprocess, uv for the packaging tests, the interop tests' Django project. The Entra emulator, the fake GitHub, the fake OIDC provider and the hub on a real
socket are tests/conftest.py's, shared with the browser tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

OFFLINE_HINT = (
    "uv's cache lacks the package-index data these installs read (tests never use the network). "
    "The `uv` fixture fills it on the first run (it needs PyPI once): check that PyPI was "
    "reachable then, or run `uv pip install -r pyproject.toml --all-extras` into any venv."
)


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def uv(tmp_path_factory: pytest.TempPathFactory) -> str:
    """uv, with what the packaging tests install in its cache: the package-index data and the
    wheels of the newest releases an unlocked install resolves to.

    Every install the tests make runs with UV_OFFLINE. A fresh machine's cache holds only the
    lock's wheels (`uv run` installs from uv.lock without reading the index), so when an offline
    dry run finds something missing, this installs the project's dependencies once into a
    throwaway venv, online: set-up like `uv sync`, and the suite's only read of PyPI.
    """
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is needed to build and install wheels")
    scratch = tmp_path_factory.mktemp("uv-fill") / "venv"
    subprocess.run([found, "venv", "--quiet", "--python", sys.executable, str(scratch)], check=True, capture_output=True)  # noqa: S603
    project = ["-r", str(ROOT / "pyproject.toml"), "--all-extras"]
    install = [found, "pip", "install", "--python", str(scratch / "bin" / "python"), *project]
    universal = [found, "pip", "compile", "--universal", str(ROOT / "pyproject.toml"), "--all-extras", "--quiet", "--output-file", os.devnull]
    offline = {**os.environ, "UV_OFFLINE": "1"}
    for command in (universal, [*install, "--dry-run"]):
        if subprocess.run(command, capture_output=True, timeout=120, env=offline).returncode != 0:  # noqa: S603
            # A failure here shows later as OFFLINE_HINT on the install that needed it.
            subprocess.run(universal, capture_output=True, timeout=300)  # noqa: S603
            subprocess.run(install, capture_output=True, timeout=600)  # noqa: S603
            break
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


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """tests/django_rp.py, the interop tests' Django project, configured once per test process."""
    from tests.interop_libs import require

    require("mozilla_django_oidc")
    require("social_django")
    from tests import django_rp

    # Playwright's sync API (the browser tests' session-wide Chromium) keeps an asyncio loop in
    # this thread; Django then takes every ORM call for one made from async code and refuses it.
    # These tests call Django synchronously only, so the check is a false alarm here.
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    django_rp.configure(tmp_path_factory.mktemp("django"))
    yield django_rp
    from django.db import connections

    connections.close_all()
    monkeypatch.undo()
