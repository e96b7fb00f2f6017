"""A signed back-channel logout token replayed to another hub process ends nothing (issue 9 §5):
each process validates with its own in-memory jti cache, so only the database (hub.upstream.replay)
can recognise the replay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from flask import Flask
from sqlalchemy import func, select

import hub_oidc
from hub.core.models import AuditEvent, SeenLogoutToken, WebSession
from hub.testing.app import callback_path, hub_app, query_of, start_sign_in
from hub_oidc.testing import FakeOpenIdProvider, oidc_settings


@pytest.fixture
def op() -> Iterator[FakeOpenIdProvider]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://localhost")
        yield FakeOpenIdProvider(rsps)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """Two hubs on one database, as two gunicorn workers are."""
    tables = {"op": {"type": "oidc", "name": "Example OP", **oidc_settings()}}
    first = hub_app(tmp_path, tables, [("oidc", hub_oidc)])
    second = hub_app(tmp_path, tables, [("oidc", hub_oidc)])
    yield first, second
    for app in (first, second):
        app.extensions["hub"].close()


def sign_in(app: Flask, op: FakeOpenIdProvider, sid: str) -> None:
    client = app.test_client()
    query = query_of(start_sign_in(client, "op"))
    op.token_body = op.token_response(op.id_token(nonce=query["nonce"], sid=sid))
    assert client.get(callback_path("op", {"code": "c-" + query["state"][:8], "state": query["state"]})).status_code == 302


def count(app: Flask, model: type) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_logout_token_replayed_to_another_process_is_refused(processes, op) -> None:
    first, second = processes
    sign_in(first, op, sid="sid-r")
    token = op.logout_token(sid="sid-r")
    assert first.test_client().post("/auth/op/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert count(first, WebSession) == 0
    sign_in(second, op, sid="sid-r")  # the person signs in again in the same provider session
    replayed = second.test_client().post("/auth/op/backchannel-logout", data={"logout_token": token})
    assert replayed.status_code == 400 and replayed.get_json()["error"] == "invalid_request"
    assert count(second, WebSession) == 1
    with second.extensions["hub"].db.session() as session:
        reasons = session.scalars(select(AuditEvent.details).where(AuditEvent.outcome == "failure")).all()
    assert [r["reason"] for r in reasons] == ["logout_token_replayed"]


def test_the_same_token_sent_to_two_processes_at_once_acts_once(processes, op) -> None:
    first, second = processes
    sign_in(first, op, sid="sid-c")
    token = op.logout_token(sid="sid-c")
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def post(app: Flask) -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/auth/op/backchannel-logout", data={"logout_token": token}).status_code)

    threads = [threading.Thread(target=post, args=(app,)) for app in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [200, 400]
    assert count(first, SeenLogoutToken) == 1 and count(first, WebSession) == 0
