"""Fixtures of the browser tests: one headless Chromium per run (Debian's, through Playwright;
tests/live.py), a fresh page per test, and `hub demo` (the README's first command) as a person
starts it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest


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
    prints: {"hub": ..., "emulator": ..., "Example app A": ..., "Example app B": ...}, and
    "instance": the demo's instance folder (its SQLite database is demo.sqlite3 there)."""
    process = subprocess.Popen(
        [
            sys.executable, "-c", "from hub.cli.main import main; main()", "demo",
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
        while time.monotonic() < deadline and len(addresses) < 4:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            hub = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
            app = re.search(r"(Example app [AB]) at (http://127\.0\.0\.1:\d+)/", line)
            emulator = re.search(r"Entra ID emulator at (http://127\.0\.0\.1:\d+)", line)
            if hub:
                addresses["hub"] = hub.group(1)
            if emulator:
                addresses["emulator"] = emulator.group(1)
            if app:
                addresses[app.group(1)] = app.group(2)
        assert len(addresses) == 4, "hub demo did not print its addresses:\n" + "".join(output)
        yield {**addresses, "instance": str(tmp_path / "instance")}
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def demo(demo_banner: dict[str, str]) -> str:
    """The hub's address in `hub demo`."""
    return demo_banner["hub"]
