"""Logging set-up: plain text or JSON lines, each carrying the request id of the request it is in."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime

from flask import g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def assign_request_id() -> str:
    """Use a well-formed upstream X-Request-ID (a proxy's), else make one."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
    return g.request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=True)


def log_request(response_status: int, started: float) -> None:
    """The hub's access log: method, path without the query string (a callback's query carries
    the authorization code), status and duration, with the request id."""
    logging.getLogger("hub.access").info(
        "%s %s %s %.1fms", request.method, request.path, response_status, (time.perf_counter() - started) * 1000
    )


def configure(log_format: str, level: str) -> None:
    """Configure the root logger once per process (idempotent: tests build many apps)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hub", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._hub = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root.addHandler(handler)
    root.setLevel(level.upper())
