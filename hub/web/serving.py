"""Serving a WSGI app on 127.0.0.1 from a background thread: `hub demo`, the emulators and tests.

Binding happens at construction, so the port (and the base URL built from it) is known before
the app exists; the app can be set afterwards.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

LOOPBACK = "127.0.0.1"


class QuietRequestHandler(WSGIRequestHandler):
    """No werkzeug access log: the hub logs requests itself without their query strings (a
    callback's query carries the authorization code), and fakes need none."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class LoopbackServer:
    """A threaded WSGI server bound to 127.0.0.1 (never another address)."""

    def __init__(
        self,
        app: Any = None,
        port: int = 0,
        *,
        name: str = "loopback",
        quiet: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context`: serve HTTPS with its certificate (the conformance kit's TLS check)."""
        self.app = app
        self.name = name
        self.scheme = "https" if ssl_context is not None else "http"
        self._server = make_server(
            LOOPBACK,
            port,
            self._dispatch,
            threaded=True,
            request_handler=QuietRequestHandler if quiet else WSGIRequestHandler,
            ssl_context=ssl_context,
        )
        self._thread: threading.Thread | None = None
        self._serving = False

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def start(self) -> LoopbackServer:
        """Serve from a daemon thread (polling often, so stop() is quick in tests)."""
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=lambda: self._server.serve_forever(poll_interval=0.05), name=self.name, daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from this thread until interrupted."""
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        if self._serving:  # shutdown() waits for a serve loop, and would wait forever without one
            self._server.shutdown()
            self._serving = False
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
