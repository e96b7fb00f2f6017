"""Issue 17, one test per finding: the endpoints an attacker with only an address can reach
answer 429 within the `anonymous` allowance (hub.web.ratelimit.ANONYMOUS) and audit refusals in
aggregate (hub.web.flood); a valid API key's refusals are attributed to the key."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import limits.storage.memory
import pytest
from flask import Flask
from sqlalchemy import func, select

from hub.app import create_app
from hub.core import apikeys
from hub.core.config import load_settings
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, LinkedAccount
from hub.web import ratelimit
from tests.conftest import sign_in

BUDGET = 10
REQUESTS = 60
USER_AGENT = "flood/" + "x" * 505


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the windows still, the hub's audit aggregation and the in-memory limiter's, as in
    test_every_route_bounded.py: a flood across a wall-clock minute let one request of its
    refused stretch through (the sliding window counter weighed the last minute just under the
    allowance), a CI flake."""
    clock = staticmethod(lambda: 1_000_000_020.0)
    monkeypatch.setattr(ratelimit.RateLimits, "window_clock", clock)
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=clock.__func__))


def make_app(hub_config: dict[str, Any], plugins: Any, **settings: str) -> Flask:
    return create_app(settings=load_settings(environ={}, overrides={**hub_config, **settings}), plugins=plugins)


@pytest.fixture
def app(hub_config: dict[str, Any], plugins: Any) -> Iterator[Flask]:
    app = make_app(hub_config, plugins, ratelimit_anonymous=f"{BUDGET} per minute")
    yield app
    app.extensions["hub"].close()


@pytest.fixture
def unlimited(hub_config: dict[str, Any], plugins: Any) -> Iterator[Flask]:
    """Limits out of the way: what one request costs in storage, counted over many."""
    app = make_app(hub_config, plugins, ratelimit_anonymous="100000 per minute", ratelimit_api="100000 per minute")
    yield app
    app.extensions["hub"].close()


def audit(app: Flask, type_: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if type_ is not None:
        query = query.where(AuditEvent.type == type_)
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(query))


def audit_count(app: Flask) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def flood(app: Flask, method: str, path: str, **kwargs: Any) -> list[int]:
    client = app.test_client()
    return [
        client.open(path, method=method, headers={"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}, **kwargs).status_code
        for _ in range(REQUESTS)
    ]


def assert_bounded(app: Flask, statuses: list[int], before: int) -> None:
    assert 429 in statuses[: BUDGET + 2], statuses
    assert set(statuses[BUDGET + 2 :]) == {429}, statuses
    written = [(e.type, e.outcome, e.details.get("reason"), e.details.get("count")) for e in audit(app)][before:]
    assert len(written) <= 3, written  # the 1st and 10th refusal, the burst's rate_limit event


def test_made_up_bearer_at_provider_token_is_limited_and_audited_in_aggregate(app: Flask) -> None:
    """Finding 1: 2,520 audit events in 10 s from one thread, none refused."""
    before = audit_count(app)
    statuses = flood(app, "GET", "/api/v1/me/provider-token?provider=fake", headers={"Authorization": "Bearer made-up"})
    assert statuses[0] == 401
    assert_bounded(app, statuses, before)
    first, *_ = audit(app, "provider_token.use")
    assert first.details["reason"] == "invalid_token" and first.details["counted_per"] == "address"


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("POST", "/oauth2/introspect", {"token": "t", "client_id": "made-up", "client_secret": "x"}),
        ("POST", "/oauth2/revoke", {"token": "t", "client_id": "made-up", "client_secret": "x"}),
        ("GET", "/oauth2/userinfo", None),
        ("POST", "/oauth2/logout", {"id_token_hint": "eyJhbGciOiJSUzI1NiJ9.e30.bad"}),
    ],
)
def test_openid_provider_endpoints_with_bad_credentials_are_limited_and_audited_in_aggregate(
    app: Flask, method: str, path: str, data: dict[str, str] | None
) -> None:
    """Finding 2: no 429, one audit event per request."""
    before = audit_count(app)
    statuses = flood(app, method, path, data=data, headers={"Authorization": "Bearer made-up"})
    assert statuses[0] in {400, 401}
    assert_bounded(app, statuses, before)


def test_a_new_client_id_per_token_request_does_not_escape_the_limit(app: Flask) -> None:
    """Finding 3: the token limit keys on the caller's (unauthenticated) client id; the
    address-wide allowance beside it refuses the flood, and its refusals are aggregated."""
    client = app.test_client()
    before = audit_count(app)
    statuses = [
        client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": f"made-up-{n}", "client_secret": "x"},
        ).status_code
        for n in range(REQUESTS)
    ]
    assert statuses[0] in {400, 401}
    assert_bounded(app, statuses, before)


def test_bad_api_keys_are_audited_in_aggregate(unlimited: Flask) -> None:
    """Finding 5: one event per bad key, not like forged callbacks."""
    before = audit_count(unlimited)
    statuses = flood(unlimited, "POST", "/api/v1/accounts/1/access-token", headers={"Authorization": "Bearer hub_x_y"})
    assert set(statuses) == {401}
    events = audit(unlimited, "api_key.use")
    assert audit_count(unlimited) - before == len(events) == 2  # the 1st and the 10th
    assert [e.details["count"] for e in events] == [1, 10]


def test_a_valid_keys_failed_lookups_are_attributed_to_the_key(unlimited: Flask, idp: Any) -> None:
    """Finding 6: probing unknown subjects with a valid key left nothing naming the key."""
    rt = unlimited.extensions["hub"]
    with write_transaction(rt.db) as session:
        key = apikeys.create(session, "prober")
    sign_in(unlimited.test_client(), idp, "alice")
    with rt.db.session() as session:
        account_id = session.scalar(select(LinkedAccount.id))
    api = unlimited.test_client()
    headers = {"Authorization": f"Bearer {key.plaintext}"}
    before = audit_count(unlimited)
    for n in range(REQUESTS):
        assert api.post("/api/v1/access-token", json={"provider_id": "fake", "subject": f"sub-{n}"}, headers=headers).status_code == 404
        assert api.post(f"/api/v1/accounts/{account_id + 1 + n}/access-token", headers=headers).status_code == 404
    assert api.post("/api/v1/access-token", json={"subject": "x"}, headers=headers).status_code == 400
    events = [e for e in audit(unlimited) if e.seq > before]
    assert {(e.type, e.details["reason"]) for e in events} == {("api_key.use", "not_found"), ("api_key.use", "bad_request")}
    assert all(e.details["api_key_id"] == key.row.id and e.details["api_key_name"] == "prober" for e in events)
    assert all(e.details["counted_per"] == "api_key" for e in events)
    assert len(events) <= 4  # 121 refusals: the 1st, 10th, 100th of not_found, the 1st of bad_request
