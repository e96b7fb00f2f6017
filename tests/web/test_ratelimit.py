"""Rate limits (hub.web.ratelimit, Flask-Limiter) on sign-in start, callbacks, the logout receivers
and the token API: 429 with Retry-After, a readable page or the API's JSON error, one audit
event per burst, and the check runs before any database work. Against Redis too, when
HUB_TEST_REDIS_URL is set (CI sets it), with a key prefix per test that the test deletes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Blueprint, Flask, request
from sqlalchemy import func, select

from hub.app import create_app
from hub.core.config import load_settings, production_problems
from hub.core.models import AuditEvent, PendingSignin
from hub.errors import ConfigError
from hub.web import ratelimit
from tests.conftest import csrf_of

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set HUB_TEST_REDIS_URL (CI does)")


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts per fixed window (a burst's one audit event, aggregated failures): hold the
    window still, so a test that happens to cross a minute boundary sees one window."""
    monkeypatch.setattr(ratelimit.RateLimits, "window_clock", staticmethod(lambda: 1_000_000_020.0))


def make_app(hub_config: dict[str, Any], plugins: Any, **settings: Any) -> Flask:
    return create_app(settings=load_settings(environ={}, overrides={**hub_config, **settings}), plugins=plugins)


@pytest.fixture
def limited(hub_config, plugins) -> Iterator[Flask]:
    app = make_app(
        hub_config,
        plugins,
        ratelimit_signin="3 per minute",
        ratelimit_callback="3 per minute",
        ratelimit_logout="3 per minute",
        ratelimit_api="3 per minute",
    )
    yield app
    app.extensions["hub"].close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    assert REDIS_URL
    prefix = f"hub-test-{uuid.uuid4().hex}"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{prefix}*"))
    if keys:
        connection.delete(*keys)
    assert not list(connection.scan_iter(match=f"*{prefix}*"))
    connection.close()


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def rate_limit_events(app: Flask) -> list[AuditEvent]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == "rate_limit")))


def post_start(client: Any, token: str) -> Any:
    return client.post("/auth/fake/start", data={"csrf_token": token})


def test_sign_in_start_is_limited_with_429_retry_after_a_page_and_one_audit_event(limited):
    client = limited.test_client()
    token = csrf_of(client)
    assert [post_start(client, token).status_code for _ in range(3)] == [303, 303, 303]
    refused = [post_start(client, token) for _ in range(20)]
    assert {r.status_code for r in refused} == {429}
    first = refused[0]
    assert 1 <= int(first.headers["Retry-After"]) <= 60
    assert first.mimetype == "text/html" and "Too many requests" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "no-store"
    assert count(limited, PendingSignin) == 3  # refused requests stored nothing
    (event,) = rate_limit_events(limited)  # one per burst, not one per refused request
    assert event.outcome == "failure" and event.details["rule"] == "signin"
    assert event.details["limit"] == "3 per 1 minute" and event.ip == "127.0.0.1"


def test_the_limit_is_checked_before_csrf_and_the_session_so_a_flood_writes_nothing(limited):
    client = limited.test_client()
    answers = [client.post("/auth/fake/start", data={}).status_code for _ in range(30)]
    assert answers[:3] == [400, 400, 400] and set(answers[3:]) == {429}  # csrf_failed, then limited
    with limited.extensions["hub"].db.session() as session:
        types = session.scalars(select(AuditEvent.type)).all()
    assert types.count("rate_limit") == 1 and len(types) <= 4  # not one event per request


def test_each_client_address_has_its_own_budget(limited):
    one, other = limited.test_client(), limited.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    token_one, token_other = csrf_of(one), csrf_of(other)
    assert [post_start(one, token_one).status_code for _ in range(4)][-1] == 429
    assert post_start(other, token_other).status_code == 303


def test_ipv6_clients_are_counted_per_64_network(limited):
    tokens = []
    for host in range(4):
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = f"2001:db8:1:2::{host + 1}"
        tokens.append(post_start(client, csrf_of(client)).status_code)
    assert tokens == [303, 303, 303, 429]


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/auth/fake/callback?state=nope&code=x"),
        ("post", "/auth/fake/backchannel-logout"),
        ("get", "/auth/fake/frontchannel-logout?sid=x"),
    ],
    ids=["callback", "backchannel", "frontchannel"],
)
def test_callbacks_and_logout_receivers_are_limited(limited, method, path):
    client = limited.test_client()
    answers = [getattr(client, method)(path).status_code for _ in range(6)]
    assert 429 not in answers[:3] and answers[3:] == [429, 429, 429]
    assert len(rate_limit_events(limited)) == 1


def test_the_token_api_answers_its_json_error_when_limited(limited):
    api = limited.test_client()
    answers = [api.post("/api/v1/access-token", json={}) for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    body = answers[3].get_json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["request_id"]
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert [e.details["path"] for e in rate_limit_events(limited)] == ["/api/v1/access-token"]


def test_pages_without_a_rule_are_not_limited(limited):
    client = limited.test_client()
    assert {client.get("/login").status_code for _ in range(10)} == {200}


def test_the_default_limits_let_ordinary_use_through(app):
    client = app.test_client()
    token = csrf_of(client)
    assert {post_start(client, token).status_code for _ in range(20)} == {303}


def test_a_blueprint_declares_a_rule_with_its_own_key_function(hub_config, plugins):
    """The reusable API: a blueprint (say an issuer's token endpoint) limited per application."""
    bp = Blueprint("issuer_test", __name__)
    ratelimit.limit("issuer_token", limit="2 per minute", key=lambda: request.args.get("client_id") or ratelimit.client_address())(bp)

    @bp.get("/test-issuer/token")
    def token() -> str:
        return "ok"

    app = make_app(hub_config, plugins)
    app.register_blueprint(bp)  # any time before the first request, as Flask allows
    client = app.test_client()
    answers = [client.get("/test-issuer/token?client_id=billing").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert client.get("/test-issuer/token?client_id=crm").status_code == 200
    assert rate_limit_events(app)[0].details["rule"] == "issuer_token"
    app.extensions["hub"].close()


def test_a_malformed_limit_is_refused_at_start_naming_the_setting(hub_config):
    with pytest.raises(ConfigError, match="ratelimit_signin: expected limits such as"):
        load_settings(environ={}, overrides={**hub_config, "ratelimit_signin": "lots"})
    with pytest.raises(ConfigError, match="ratelimit_storage: expected memory:// or redis://"):
        load_settings(environ={}, overrides={**hub_config, "ratelimit_storage": "mongodb://x"})


def test_production_refuses_memory_storage(tmp_path: Path):
    env = {
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_BASE_URL": "https://hub.example.test",
        "HUB_DATABASE_URL": "postgresql+psycopg://hub@db/hub",
    }
    problems = production_problems(load_settings(environ=env), {}, set())
    assert any(p.startswith("ratelimit_storage: memory:// counts per process") for p in problems)
    redis_env = {**env, "HUB_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0"}
    assert production_problems(load_settings(environ=redis_env), {}, set()) == []


def test_an_unreachable_redis_never_fails_a_request_and_limits_in_memory(hub_config, plugins, monkeypatch):
    """A Redis that goes away after the start (one that does not answer at start stops the
    start: tests/web/test_production_start.py)."""
    import socket

    from hub.web.ratelimit import RateLimits

    monkeypatch.setattr(RateLimits, "_check_storage", lambda self: None)  # it answered at start
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(hub_config, plugins, ratelimit_storage=f"redis://127.0.0.1:{port}/1", ratelimit_signin="2 per minute")
    client = app.test_client()
    token = csrf_of(client)
    assert [post_start(client, token).status_code for _ in range(4)] == [303, 303, 429, 429]
    app.extensions["hub"].close()


@needs_redis
def test_two_processes_sharing_redis_share_the_budget_and_audit_the_burst_once(hub_config, plugins, redis_prefix):
    settings = {"ratelimit_storage": REDIS_URL, "ratelimit_key_prefix": redis_prefix, "ratelimit_callback": "4 per minute"}
    first, second = make_app(hub_config, plugins, **settings), make_app(hub_config, plugins, **settings)
    path = "/auth/fake/callback?state=forged&code=x"
    answers = [app.test_client().get(path).status_code for app in (first, second) * 5]
    assert 429 not in answers[:4] and set(answers[4:]) == {429}
    assert len(rate_limit_events(first)) == 1  # both apps write to one database
    assert list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{redis_prefix}*"))
    for app in (first, second):
        app.extensions["hub"].close()


@needs_redis
def test_redis_limits_answer_429_with_retry_after_on_the_api(hub_config, plugins, redis_prefix):
    app = make_app(hub_config, plugins, ratelimit_storage=REDIS_URL, ratelimit_key_prefix=redis_prefix, ratelimit_api="2 per hour")
    api = app.test_client()
    answers = [api.post("/api/v1/access-token", json={}) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert 60 < int(answers[2].headers["Retry-After"]) <= 3600
    app.extensions["hub"].close()


@needs_redis
def test_failure_counts_are_shared_by_processes_through_redis(hub_config, plugins, redis_prefix):
    """hub.web.flood counts in the limiter's storage: two workers' forged callbacks are one count."""
    settings = {"ratelimit_storage": REDIS_URL, "ratelimit_key_prefix": redis_prefix, "ratelimit_callback": "1000 per minute"}
    first, second = make_app(hub_config, plugins, **settings), make_app(hub_config, plugins, **settings)
    for app in (first, second) * 6:
        assert app.test_client().get("/auth/fake/callback?state=forged&code=x").status_code == 400
    with first.extensions["hub"].db.session() as session:
        counts = session.scalars(select(AuditEvent.details).where(AuditEvent.type == "signin")).all()
    assert [c["count"] for c in counts] == [1, 10]  # twelve failures, one shared count
    for app in (first, second):
        app.extensions["hub"].close()
