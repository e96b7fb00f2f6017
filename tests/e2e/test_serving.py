"""The loopback server shared by `hub demo`, the emulators and tests."""

from __future__ import annotations

import threading

import requests

from hub.serving import LoopbackServer


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_binds_loopback_before_the_app_exists_and_serves_it():
    server = LoopbackServer()
    assert server.base_url == f"http://127.0.0.1:{server.port}" and server.port > 0
    server.app = hello
    with server.start():
        assert requests.get(server.base_url, timeout=5).text == "hello"


def test_stop_without_serving_returns_at_once():
    done = threading.Event()
    thread = threading.Thread(target=lambda: (LoopbackServer(hello).stop(), done.set()), daemon=True)
    thread.start()
    assert done.wait(5), "stop() hung on a server that never served"
