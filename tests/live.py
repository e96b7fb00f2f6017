"""Real sockets for end-to-end tests: serve a WSGI app on 127.0.0.1 in a thread, and drive a
headless Chromium with Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub.serving import LoopbackServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@contextmanager
def serve(make_app: Callable[[str], Any]) -> Iterator[tuple[str, Any]]:
    """Bind a free loopback port first, then build the app for that base URL and serve it."""
    server = LoopbackServer(name="test-hub")
    server.app = make_app(server.base_url)
    server.start()
    try:
        yield server.base_url, server.app
    finally:
        server.stop()
        runtime = getattr(server.app, "extensions", {}).get("hub")
        if runtime is not None:
            runtime.close()  # return the database connections before the next test


def chromium_or_skip() -> None:
    """Browser tests skip where Chromium is absent, except in CI (HUB_REQUIRE_BROWSER=1)."""
    if Path(CHROMIUM).exists():
        return
    message = f"headless Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("HUB_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
