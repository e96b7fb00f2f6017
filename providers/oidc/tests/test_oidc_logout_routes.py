"""Provider-initiated sign-out through the hub's routes with the oidc provider: back-channel
logout tokens (L03), front-channel GETs (L01), and local logout that never waits on the
provider (L02)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import hub_oidc
from hub.core.models import AuditEvent, WebSession
from hub.oidc import b64url
from hub.testing.app import callback_path, hub_app, query_of, start_sign_in
from hub_oidc.testing import ISSUER, FakeOpenIdProvider, oidc_settings


@pytest.fixture
def op() -> Iterator[FakeOpenIdProvider]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://localhost")
        yield FakeOpenIdProvider(rsps)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = hub_app(tmp_path, {"op": {"type": "oidc", "name": "Example OP", **oidc_settings()}}, [("oidc", hub_oidc)])
    yield app
    app.extensions["hub"].close()


def sign_in(app: Flask, op: FakeOpenIdProvider, sid: str = "op-session-1", sub: str = "248289761001") -> FlaskClient:
    client = app.test_client()
    query = query_of(start_sign_in(client, "op"))
    op.token_body = op.token_response(op.id_token(nonce=query["nonce"], sid=sid, sub=sub))
    response = client.get(callback_path("op", {"code": "c-" + sid, "state": query["state"]}))
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return client


def live_sessions(app: Flask) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(WebSession)) or 0


def logout_events(app: Flask) -> list[AuditEvent]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == "logout").order_by(AuditEvent.seq)))


def test_a_valid_logout_token_ends_only_that_provider_session(app: Flask, op: FakeOpenIdProvider) -> None:
    alice = sign_in(app, op, sid="sid-a")
    bob = sign_in(app, op, sid="sid-b", sub="bob-sub")
    response = app.test_client().post("/auth/op/backchannel-logout", data={"logout_token": op.logout_token(sid="sid-a")})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert alice.get("/account").status_code == 302  # signed out: sent to /login
    assert bob.get("/account").status_code == 200
    event = logout_events(app)[-1]
    assert (event.outcome, event.details["via"], event.provider_id) == ("success", "backchannel", "op")


def test_a_logout_token_with_only_sub_ends_every_session_of_that_person(app: Flask, op: FakeOpenIdProvider) -> None:
    sign_in(app, op, sid="sid-1")
    sign_in(app, op, sid="sid-2")
    token = op.logout_token(sid=None)
    assert app.test_client().post("/auth/op/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert live_sessions(app) == 0


@pytest.mark.parametrize(
    ("header", "claims"),
    [({"alg": "none"}, {}), ({}, {"events": None}), ({}, {"nonce": "n"}), ({}, {"aud": "other"}),
     ({}, {"iss": "https://example.org/"}), ({"typ": "JWT"}, {}), ({}, {"jti": None})],
    ids=["alg-none", "no-events", "nonce", "aud", "iss", "typ", "no-jti"],
)  # fmt: skip
def test_invalid_logout_tokens_get_400_and_end_no_session(app: Flask, op: FakeOpenIdProvider, header: dict, claims: dict) -> None:
    sign_in(app, op)
    if header.get("alg") == "none":
        token = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(op.logout_claims()).encode())}."
    else:
        token = op.logout_token(header=header, **claims)
    response = app.test_client().post("/auth/op/backchannel-logout", data={"logout_token": token})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert live_sessions(app) == 1
    event = logout_events(app)[-1]
    assert (event.outcome, event.details["via"]) == ("failure", "backchannel")


def test_backchannel_needs_no_csrf_token_but_other_posts_still_do(app: Flask, op: FakeOpenIdProvider) -> None:
    client = app.test_client()
    assert client.post("/auth/op/backchannel-logout", data={}).status_code == 400  # missing token, not CSRF
    assert client.post("/auth/op/start", data={}).status_code == 400  # CSRF still enforced elsewhere
    assert client.post("/auth/nope/backchannel-logout", data={"logout_token": "x"}).status_code == 404


def test_frontchannel_ends_the_session_and_only_that_route_may_be_framed_by_the_op(app: Flask, op: FakeOpenIdProvider) -> None:
    alice = sign_in(app, op, sid="sid-f")
    response = app.test_client().get(f"/auth/op/frontchannel-logout?sid=sid-f&iss={ISSUER}")
    assert response.status_code == 200
    assert f"frame-ancestors {ISSUER}" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert alice.get("/account").status_code == 302
    assert "frame-ancestors 'none'" in app.test_client().get("/login").headers["Content-Security-Policy"]
    assert logout_events(app)[-1].details["via"] == "frontchannel"


def test_frontchannel_with_a_foreign_iss_is_refused(app: Flask, op: FakeOpenIdProvider) -> None:
    sign_in(app, op, sid="sid-g")
    response = app.test_client().get("/auth/op/frontchannel-logout?sid=sid-g&iss=https://evil.example")
    assert response.status_code == 400 and live_sessions(app) == 1
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_local_logout_succeeds_when_the_provider_does_not_answer(app: Flask, op: FakeOpenIdProvider) -> None:
    client = sign_in(app, op)
    op.rsps.reset()  # from now on every call to the provider fails (connection refused)
    token = client.get("/account").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].startswith(f"{ISSUER}/logout?")
    assert live_sessions(app) == 0 and client.get("/account").status_code == 302


@pytest.mark.parametrize("sent", [None, "https://evil.example"])
def test_rfc9207_the_core_refuses_a_callback_without_the_advertised_iss(app: Flask, op: FakeOpenIdProvider, sent: str | None) -> None:
    op.document["authorization_response_iss_parameter_supported"] = True
    client = app.test_client()
    query = query_of(start_sign_in(client, "op"))
    params = {"code": "c-1", "state": query["state"], **({"iss": sent} if sent else {})}
    assert client.get(callback_path("op", params)).status_code == 400
    assert op.token_requests == []
    with app.extensions["hub"].db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.type == "signin").order_by(AuditEvent.seq.desc())).first()
    assert (event.outcome, event.details["reason"]) == ("failure", "issuer_mismatch")


def test_rfc9207_the_advertised_iss_on_the_callback_signs_in(app: Flask, op: FakeOpenIdProvider) -> None:
    op.document["authorization_response_iss_parameter_supported"] = True
    client = app.test_client()
    query = query_of(start_sign_in(client, "op"))
    op.token_body = op.token_response(op.id_token(nonce=query["nonce"]))
    assert client.get(callback_path("op", {"code": "c-2", "state": query["state"], "iss": ISSUER})).status_code == 302
