"""Issue 9 §5 (first two findings): no forged log lines, no redirect to a host we did not configure."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from flask import redirect, request

from hub.web import logs
from tests.conftest import callback_path

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


# --- request ids and addresses behind proxies (issue 17) ----------------------------------------------


@pytest.fixture
def proxied_app(hub_config, plugins):
    """The hub behind one trusted reverse proxy (HUB_TRUSTED_PROXIES=1)."""
    from hub.app import create_app
    from hub.core.config import load_settings

    settings = load_settings(environ={}, overrides={**hub_config, "trusted_proxies": 1, "ratelimit_signin": "1 per minute"})
    app = create_app(settings=settings, plugins=plugins)
    yield app
    app.extensions["hub"].close()


FORGED_ID = "forged-request-id-0001"


def test_a_clients_request_id_is_not_ours_without_a_trusted_proxy(client, log_output):
    response = client.get("/api/v1/me", headers={"X-Request-ID": FORGED_ID})
    body = response.get_json()
    assert body["error"]["request_id"] != FORGED_ID  # before: the client's id
    assert response.headers.get("X-Request-ID") != FORGED_ID
    (line,) = [line for line in log_output.getvalue().splitlines() if "hub.access" in line]
    assert f"[{body['error']['request_id']}]" in line
    assert f"client_request_id='{FORGED_ID}'" in line  # kept, as a field of its own


def test_a_trusted_proxys_request_id_is_the_request_id(proxied_app, log_output):
    response = proxied_app.test_client().get("/api/v1/me", headers={"X-Request-ID": FORGED_ID})
    assert response.get_json()["error"]["request_id"] == FORGED_ID
    assert "client_request_id" not in log_output.getvalue()


@pytest.mark.parametrize(
    ("forwarded", "address"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("203.0.113.5:40009", "203.0.113.5"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("unknown", None),
        ("203.0.113.5:port", None),
        ("[2001:db8::1]x", None),
        ("[2001:db8::1", None),
        ("evil.example:80", None),
        ("", None),
    ],
)
def test_forwarded_addresses_lose_their_port_and_garbage_is_no_address(forwarded, address):
    from hub.web.proxy import forwarded_address

    assert forwarded_address(forwarded) == address


def test_behind_a_proxy_that_writes_ports_one_client_is_one_address(proxied_app, log_output):
    """Azure Application Gateway writes ip:port: before, each source port was its own rate-limit
    key and the address in logs and audit events carried the port."""
    client = proxied_app.test_client()
    first = client.post("/auth/fake/start", headers={"X-Forwarded-For": "203.0.113.5:40009"})
    second = client.post("/auth/fake/start", headers={"X-Forwarded-For": "203.0.113.5:40010"})
    assert first.status_code != 429 and second.status_code == 429  # one key for both ports
    access = [line for line in log_output.getvalue().splitlines() if "hub.access" in line]
    assert access and all(" 203.0.113.5 POST /auth/fake/start" in line for line in access)
    client.post("/auth/fake/start", headers={"X-Forwarded-For": "not-an-address"})
    assert " 127.0.0.1 POST" in log_output.getvalue().splitlines()[-1]  # the proxy's, not the garbage


# --- logs an operator can use (issue 17) ----------------------------------------------------------


@pytest.fixture
def json_log(app) -> Iterator[io.StringIO]:
    """The hub's handler writing JSON lines, as under HUB_LOG_FORMAT=json."""
    logs.configure("json", "INFO")
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_hub", False)]
    stream = io.StringIO()
    handler.setStream(stream)
    yield stream
    logs.configure("text", "INFO")


def _entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_shape_json_lines_with_address_request_id_and_gunicorns_own_lines(client, json_log):
    from gunicorn.config import Config

    from hub.web.gunicornlog import HubGunicornLogger

    client.get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.44"})
    config = Config()
    config.set("logger_class", "hub.web.gunicornlog.HubGunicornLogger")
    HubGunicornLogger(config).info("Booting worker with pid: %s", 4242)
    entries = _entries(json_log)  # every line one JSON object (json.loads raises otherwise)
    (access,) = [e for e in entries if e["logger"] == "hub.access"]
    assert set(access) == {"time", "level", "logger", "message", "request_id"}
    assert re.fullmatch(r"192\.0\.2\.44 GET /healthz 200 \d+\.\dms", access["message"])
    assert re.fullmatch(r"[0-9a-f]{16}", access["request_id"])
    (booting,) = [e for e in entries if e["logger"] == "gunicorn.error"]  # before: a text line of its own
    assert booting["message"] == "Booting worker with pid: 4242" and booting["level"] == "INFO"


def test_gunicorns_failed_request_lines_carry_no_query_string(json_log):
    """gunicorn logs "Error handling request %s" with the URI: a callback's code and state."""
    from gunicorn.config import Config

    from hub.web.gunicornlog import HubGunicornLogger

    config = Config()
    config.set("logger_class", "hub.web.gunicornlog.HubGunicornLogger")
    HubGunicornLogger(config).error("Error handling request %s", "/callback?code=SECRET-CODE&state=SECRET-STATE")
    (line,) = [e for e in _entries(json_log) if e["logger"] == "gunicorn.error"]
    assert line["message"] == "Error handling request /callback?[query dropped]"
    assert "SECRET" not in json_log.getvalue()


def test_an_upstream_failure_is_a_warning_naming_the_provider_and_the_reason(client, idp, json_log):
    from tests.conftest import start_signin

    idp.token_status = 503
    response = client.get(callback_path(idp.authorize(start_signin(client, "fake"), "alice")))
    assert response.status_code == 503
    (warning,) = [e for e in _entries(json_log) if e["level"] == "WARNING"]
    assert warning["message"].startswith("sign-in through provider fake failed: provider_unavailable: ")


def test_readyz_writes_no_migration_tool_lines(client, json_log):
    for _ in range(3):
        assert client.get("/readyz").status_code == 200
    loggers = {e["logger"] for e in _entries(json_log)}
    assert loggers == {"hub.access"}  # before: alembic's "Context impl" twice per probe
