"""Misbehaviour switches for a fake server: what it does wrong on purpose, how often, and where.

A test arms a switch by name (`slow`, `server_error`, ...), optionally at one endpoint and with
options (`status=`, `seconds=`); the fake takes it when the matching request arrives. A switch
fires `times` times (None: until cleared). The fakes of the kit, the fake GitHub and the Entra
emulator all keep their switches here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Response


@dataclass
class Misbehaviour:
    """One armed switch: its `name`, how many more times it fires, its `options`."""

    name: str
    remaining: int | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def endpoint(self) -> str | None:
        return self.options.get("endpoint")


class Misbehaviours:
    """The armed switches of one fake server, safe to use from its request threads."""

    def __init__(self, names: Iterable[str], endpoints: Iterable[str]) -> None:
        """`names`: the switches this server knows; `endpoints`: where `endpoint=` may point."""
        self.names = frozenset(names)
        self.endpoints = frozenset(endpoints)
        self._armed: list[Misbehaviour] = []
        self._lock = threading.Lock()

    def arm(self, name: str, *, times: int | None = 1, **options: Any) -> None:
        """Misbehave as `name` on the next `times` matching requests (None: until cleared)."""
        if name not in self.names:
            raise ValueError(f"unknown misbehaviour {name!r}; one of {sorted(self.names)}")
        endpoint = options.get("endpoint")
        if endpoint is not None and endpoint not in self.endpoints:
            raise ValueError(f"{name}: endpoint {endpoint!r} is not one of {sorted(self.endpoints)}")
        with self._lock:
            self._armed.append(Misbehaviour(name, times, dict(options)))

    def take(self, name: str | None = None, endpoint: str | None = None) -> Misbehaviour | None:
        """The first armed switch matching `name` and `endpoint` (either may be left open),
        counted as fired; None when nothing matches."""
        with self._lock:
            for item in self._armed:
                if (name is None or item.name == name) and (endpoint is None or item.endpoint == endpoint):
                    if item.remaining is not None:
                        item.remaining -= 1
                        if item.remaining <= 0:
                            self._armed.remove(item)
                    return item
        return None

    def armed(self, name: str, endpoint: str | None = None) -> Misbehaviour | None:
        """The first armed switch matching, without firing it (for switches a test reads back)."""
        with self._lock:
            return next((m for m in self._armed if m.name == name and (endpoint is None or m.endpoint == endpoint)), None)

    def disarm(self, name: str, endpoint: str | None = None) -> None:
        """Forget the switches matching `name` (and `endpoint`, when given)."""
        with self._lock:
            self._armed = [m for m in self._armed if not (m.name == name and (endpoint is None or m.endpoint == endpoint))]

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()


def canned_answer(kind: str | None, slow_seconds: float) -> Response | None:
    """The answer of a generic HTTP misbehaviour, replacing the normal one; None: answer normally
    (after waiting `slow_seconds` for `timeout`, longer than a client's read timeout)."""
    if kind == "timeout":
        time.sleep(slow_seconds)
        return None
    if kind == "server_error":
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, content_type="text/html")
    if kind == "html":
        return Response("<!doctype html><html><body>Sign in to continue</body></html>", 200, content_type="text/html")
    if kind == "invalid_json":
        return Response('{"access_token": ', 200, content_type="application/json")
    if kind == "empty":
        return Response("", 200, content_type="application/json")
    if kind == "unauthorized":
        return Response(json.dumps({"error": "invalid_token"}), 401, content_type="application/json",
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})  # fmt: skip
    return None


__all__ = ["Misbehaviour", "Misbehaviours", "canned_answer"]
