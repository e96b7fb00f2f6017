"""What the hub believes about where a request came from: forwarded headers only from trusted proxies.

`trusted_proxies` (HUB_TRUSTED_PROXIES) is how many reverse proxies stand in front of the hub.
With none, the socket's address is the client's, and the X-Request-ID a client sends is not
taken as the request id (any client could otherwise choose the id its requests carry in logs,
error bodies and audit events). With N, Werkzeug's ProxyFix reads the N-th X-Forwarded-For,
-Proto and -Host entry from the right (the one the outermost trusted proxy wrote), the proxy's
X-Request-ID is the request id, and the forwarded address is parsed: some proxies (Azure
Application Gateway) write `203.0.113.5:40009`, and every source port must not become its own
rate-limit key nor the audit address carry it. See docs/reverse-proxy.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CLIENT_REQUEST_ID = "hub.client_request_id"
"""The environ key of the X-Request-ID an untrusted client sent (logged apart, escaped)."""


def forwarded_address(value: str) -> str | None:
    """The IP address in a forwarded-for entry, without a port: `203.0.113.5`,
    `203.0.113.5:40009`, `2001:db8::1`, `[2001:db8::1]` and `[2001:db8::1]:443` all give the
    address; anything else is not an address (None)."""
    text = value.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has two colons or more
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    else:
        host = text
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class TrustedProxies:
    """WSGI middleware: the client's address, scheme, host and request id as far as the
    configured number of proxies vouches for them."""

    def __init__(self, app: WsgiApp, hops: int) -> None:
        self.hops = hops
        self._app = app
        self._forwarded = ProxyFix(self._client_address, x_for=hops, x_proto=hops, x_host=hops) if hops else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._forwarded is None:
            sent = environ.pop("HTTP_X_REQUEST_ID", None)
            if sent is not None:
                environ[CLIENT_REQUEST_ID] = sent
            return self._app(environ, start_response)
        return self._forwarded(environ, start_response)

    def _client_address(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """After ProxyFix: the forwarded address without its port; a forwarded value that is no
        address leaves the proxy's own (the socket's), which at least is true."""
        original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
        address = forwarded_address(environ.get("REMOTE_ADDR") or "")
        environ["REMOTE_ADDR"] = address or original
        return self._app(environ, start_response)
