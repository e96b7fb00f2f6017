"""Back-channel logout receivers the hub will and will not send to: registration refuses
link-local, metadata and reserved addresses and plain http off loopback; a receiver slower than
the delivery timeout is recorded as timed out and gets the same token again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from joserfc import jwt
from sqlalchemy import select

from hub.core.audit import AuditLog
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, BackchannelLogout
from hub.issuer import applications, backchannel
from tests.web.test_backchannel_logout import KEY, Clock, end_session, hub_session, make_dispatcher


@pytest.mark.parametrize(
    "uri",
    [
        "https://169.254.169.254/latest/meta-data",
        "http://169.254.169.254/logout",
        "https://[fe80::1]/logout",
        "https://[fd00:ec2::254]/logout",
        "https://[::ffff:169.254.169.254]/logout",
        "https://100.100.100.200/logout",
        "https://0.0.0.0/logout",
        "https://[::]/logout",
        "https://224.0.0.1/logout",
        "https://240.0.0.1/logout",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://METADATA.google.internal./x",
        "http://wiki.example/logout",
        "http://10.0.0.5/logout",
    ],
)
def test_unsafe_backchannel_logout_uris_are_refused_at_registration(db, uri):
    with pytest.raises(applications.ApplicationError) as refused, write_transaction(db) as session:
        applications.create(session, "Wiki", ["https://wiki.example/cb"], backchannel_logout_uri=uri)
    assert uri in refused.value.message or uri.lower() in refused.value.message.lower()
    with db.session() as session:
        assert applications.list_all(session) == []


@pytest.mark.parametrize(
    "uri",
    ["https://wiki.example/logout", "http://127.0.0.1:5003/logout", "http://[::1]:5003/logout",
     "http://localhost/logout", "https://10.0.0.5/logout"],
)
def test_ordinary_backchannel_logout_uris_are_accepted(db, uri):
    with write_transaction(db) as session:
        created = applications.create(session, "Wiki", ["https://wiki.example/cb"], backchannel_logout_uri=uri)
        assert created.application.backchannel_logout_uri == uri


def test_the_cli_names_the_problem(hub_cli):  # noqa: F811 (the fixture)
    result = hub_cli("apps", "create", "Wiki", "--redirect-uri", "https://wiki.example/cb",
                     "--backchannel-logout-uri", "https://169.254.169.254/logout")
    assert result.exit_code != 0
    assert "link-local" in str(result.exception)  # `hub` prints it as "error: ..."


def test_the_console_names_the_problem_and_registers_nothing(admin, rt):
    from tests.web.test_admin_applications import post, register_form

    answer = post(admin, "/admin/applications",
                  **register_form(backchannel_logout_uri="https://[fe80::1]/backchannel-logout"))
    assert answer.status_code == 400
    assert "link-local, metadata or reserved address" in answer.get_data(as_text=True)
    with rt.db.session() as session:
        assert applications.list_all(session) == []


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(b"k" * 32)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class SlowReceiver:
    """A loopback receiver that holds its first answer until the test lets it go."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.tokens: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.tokens.append(parse_qs(body)["logout_token"][0])
                receiver.release.wait(10)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the hub stopped waiting

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    receiver = SlowReceiver()
    yield receiver
    receiver.close()


def test_a_receiver_slower_than_the_timeout_is_recorded_as_timed_out_and_sent_the_same_token(
    db, audit, clock, slow_receiver, monkeypatch
):
    monkeypatch.setattr(backchannel, "TIMEOUT", (2.0, 0.2))
    observed: list[str] = []
    dispatcher = make_dispatcher(db, audit, clock, on_attempt=lambda application, label: observed.append(label))
    try:
        with write_transaction(db) as session:
            app_id = applications.create(session, "a", ["https://a.example/cb"],
                                         backchannel_logout_uri=slow_receiver.uri).application.id
        cookie, _, _ = hub_session(db, "ada", app_id)
        end_session(db, cookie)
        assert dispatcher.run_once() == 1  # the receiver holds its answer past the read timeout
        slow_receiver.release.set()
        with db.session() as session:
            row = session.scalar(select(BackchannelLogout))
            assert (row.state, row.last_error) == ("pending", "timeout")
            [event] = session.scalars(select(AuditEvent).where(AuditEvent.type == "logout.backchannel"))
            assert (event.outcome, event.details["reason"], event.details["state"]) == ("failure", "timeout", "pending")
        assert observed == ["timed_out"]
        clock.advance(backchannel.RETRY_DELAYS[0])
        assert dispatcher.run_once() == 1
        first, second = (jwt.decode(token, KEY).claims["jti"] for token in slow_receiver.tokens)
        assert first == second  # at-least-once: the receiver must dedupe by jti
        with db.session() as session:
            assert session.scalar(select(BackchannelLogout.state)) == "delivered"
        assert observed == ["timed_out", "delivered"]
    finally:
        dispatcher.stop()


@pytest.mark.parametrize("uri", ['https://wiki.example/c"b', "https://wiki.example/c\\b", "https://wiki.example/caf\u00e9"])
def test_redirect_uris_with_quotes_backslashes_or_non_ascii_are_refused_at_registration(db, uri):
    """What authorize could not name in an RFC 6749 error, registration does not accept."""
    with pytest.raises(applications.ApplicationError, match="percent-encoded"), write_transaction(db) as session:
        applications.create(session, "Wiki", [uri])
