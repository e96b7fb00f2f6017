"""Logging set-up: plain text or JSON lines, each carrying the request id of the request it is in."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context, request

from hub.web.proxy import CLIENT_REQUEST_ID

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """Control, line-separator and bidi characters as visible \\uXXXX escapes.

    Log fields carry what requests send (a path with %0D%0A, a User-Agent with ANSI
    sequences): unescaped, one request could write a forged line into the text log.
    """
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _escape_traceback(text: str) -> str:
    """A traceback keeps its lines, each indented and escaped, so no line of it (an exception
    message quoting a request) can pass for a log record of its own."""
    return "\n".join("    " + escape_controls(line) for line in text.split("\n"))


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def assign_request_id() -> str:
    """Use a well-formed X-Request-ID from a trusted proxy, else make one. A client's own
    header never arrives here: hub.web.proxy sets it aside unless a trusted proxy stands in front."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
    return g.request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


class TextFormatter(logging.Formatter):
    """One line per record: every field of the message escaped (escape_controls)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return _escape_traceback(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return _escape_traceback(super().formatStack(stack_info))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": escape_controls(record.getMessage()),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=True)


def log_request(response_status: int, started: float) -> None:
    """The hub's access log: client address (after trusted_proxies), method, path without the
    query string (a callback's query carries the authorization code), status and duration, with
    the request id; and the X-Request-ID an untrusted client sent, as a field of its own."""
    duration = (time.perf_counter() - started) * 1000
    sent = request.environ.get(CLIENT_REQUEST_ID)
    extra = f" client_request_id={sent[:64]!r}" if sent else ""
    logging.getLogger("hub.access").info(
        "%s %s %s %s %.1fms%s", request.remote_addr or "-", request.method, request.path, response_status, duration, extra
    )


def is_configured() -> bool:
    """Whether this process's root logger has the hub's handler."""
    return any(getattr(handler, "_hub", False) for handler in logging.getLogger().handlers)


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
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
