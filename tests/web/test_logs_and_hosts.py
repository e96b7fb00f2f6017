"""Issue 9 §5 (first two findings): no forged log lines, no redirect to a host we did not configure."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from flask import redirect, request

from hub import logs

FORGED = "2026-01-01 00:00:00,000 INFO hub.access [forged] GET /admin 200 1.0ms"


@pytest.fixture
def log_output(app) -> Iterator[io.StringIO]:
    """What the hub's own log handler writes, for the duration of a test."""
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_hub", False)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_control_characters_in_a_path_never_forge_a_log_line(client, log_output):
    client.get("/nothing%0D%0A" + FORGED.replace(" ", "%20") + "%1B[31m")
    text = log_output.getvalue()
    assert "[forged]" in text
    for line in text.splitlines():
        if "[forged]" in line:  # before the fix, a line of its own
            assert "GET /nothing\\u000d\\u000a2026" in line and "\\u001b[31m" in line
    assert "\x1b" not in text and "\r" not in text


def test_every_field_is_escaped_in_text_and_json_and_tracebacks_stay_indented():
    record = logging.LogRecord("hub.test", logging.ERROR, __file__, 1, "%s %s", ("GET", "/a\r\nforged\u202e"), None)
    try:
        raise ValueError("bad\nline " + FORGED)
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    record.request_id = "-"
    text = logs.TextFormatter("%(levelname)s %(message)s").format(record)
    first, *rest = text.split("\n")
    assert first == "ERROR GET /a\\u000d\\u000aforged\\u202e"
    assert rest and all(line.startswith("    ") for line in rest)  # no traceback line passes for a record
    record.exc_text = None
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["message"] == "GET /a\\u000d\\u000aforged\\u202e"


def test_json_log_lines_stay_one_object_each(app, client, log_output):
    logs.configure("json", "INFO")
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_hub", False)]
    handler.setStream(log_output)
    try:
        client.get("/x%0A%7B%22level%22%3A%22ERROR%22%7D")
    finally:
        logs.configure("text", "INFO")
    lines = log_output.getvalue().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert any("\\u000a" in json.loads(line)["message"] for line in lines)


# --- hosts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin//accounts", "//admin", "/account//", "/login/", "/admin/", "/", "/admin"])
def test_no_redirect_names_an_unconfigured_host(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    location = response.headers.get("Location", "")
    assert "evil.example" not in location, (path, response.status_code, location)  # before: 308 to evil.example
    assert not location.startswith("//")


def test_a_framework_redirect_built_from_the_host_header_becomes_a_path(app):
    app.add_url_rule("/test-absolute-redirect", "test_absolute", lambda: redirect(f"{request.host_url}somewhere//else?x=1"))
    response = app.test_client().get("/test-absolute-redirect", headers={"Host": "evil.example"})
    assert response.headers["Location"] == "/somewhere//else?x=1"
    configured = app.test_client().get("/test-absolute-redirect", headers={"Host": "localhost:5001"})
    assert configured.headers["Location"] == "http://localhost:5001/somewhere//else?x=1"


def test_probes_answer_whatever_host_they_name(client):
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200
    assert re.match(r"2\d\d", str(client.get("/readyz", headers={"Host": "10.0.0.7:8000"}).status_code))
