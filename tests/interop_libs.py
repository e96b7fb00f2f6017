"""Relying-party libraries for the interoperability tests: imported, or a clear failure in CI.

The libraries are the `interop` dependency group (pyproject.toml), which `uv run pytest`
installs. Someone running the suite without that group gets a skip that names it, except with
HUB_REQUIRE_INTEROP=1 (CI), where a missing library fails the test instead of hiding it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require(module: str) -> ModuleType:
    """Import a relying-party library the test signs in with, or skip (fail under CI) saying how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = f"{module} is not installed ({error}); `uv sync` installs the interop dependency group"
        if os.environ.get("HUB_REQUIRE_INTEROP") == "1":
            pytest.fail(f"HUB_REQUIRE_INTEROP=1 but {missing}")
        pytest.skip(missing)
