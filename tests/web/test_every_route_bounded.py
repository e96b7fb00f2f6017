"""Every route anyone can reach is bounded (issue 17): walking `app.url_map`, every route and
method, with bad credentials from one address answers 429 within the `anonymous` allowance and
stores a bounded number of rows (audit events aggregated by hub.web.flood, nothing else growing
with the flood). A route added later is walked too: one that escapes the rule fails here."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import limits.storage.memory
import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from hub.app import create_app
from hub.core.config import load_settings
from hub.core.models import AuditEvent, Base
from hub.web import ratelimit

BUDGET = 12
"""The test's `anonymous` (and `public`) allowance per address and minute."""
MAX_AUDIT_ROWS = 6
"""Per route and address: the 1st and 10th refusal of a kind (hub.web.flood), the burst's one
rate-limit event, and room for a second refusal kind on the same route."""
EXEMPT = {
    "static": "the hub's own files",
    "health.healthz": "probes",
    "health.readyz": "probes",
}
"""Routes outside the `anonymous` allowance: each must write nothing. A new exemption is a
reviewed change to this list."""
PUBLIC = {"issuer.discovery", "issuer.oauth_metadata", "issuer.jwks"}
"""Exempt from `anonymous` but under their own `public` limit."""
USER_AGENT = "flood/" + "x" * 505
ARGUMENTS = {"provider": "fake", "provider_id": "fake", "filename": "hub.css"}


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the windows still: the hub's (one audit event per burst) and the in-memory limiter's.
    Its sliding windows are wall-clock minutes, so a route walked across a minute boundary had
    one request of its refused stretch let through (the previous minute's count weighed just
    under the allowance), and the test failed when it ran long. Redis windows start at a key's
    first hit, and every route has an address, so a key, of its own."""
    clock = staticmethod(lambda: 1_000_000_020.0)
    monkeypatch.setattr(ratelimit.RateLimits, "window_clock", clock)
    monkeypatch.setattr(limits.storage.memory, "time", SimpleNamespace(time=clock.__func__))


REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The limiter's counters in memory, and in Redis when HUB_TEST_REDIS_URL is set (CI sets
    it) under a key prefix of this test's own, deleted afterwards."""
    if request.param == "memory":
        yield {}
        return
    if not REDIS_URL:
        pytest.skip("set HUB_TEST_REDIS_URL (CI does)")
    prefix = f"hub-test-{uuid.uuid4().hex}"
    yield {"ratelimit_storage": REDIS_URL, "ratelimit_key_prefix": prefix}
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{prefix}*"))
    if keys:
        connection.delete(*keys)
    connection.close()


@pytest.fixture
def app(hub_config: dict[str, Any], plugins: Any, storage: dict[str, str]) -> Iterator[Flask]:
    overrides = {
        **hub_config, **storage, "ratelimit_anonymous": f"{BUDGET} per minute", "ratelimit_public": f"{BUDGET} per minute",
    }
    app = create_app(settings=load_settings(environ={}, overrides=overrides), plugins=plugins)
    yield app
    app.extensions["hub"].close()


def table_rows(app: Flask) -> dict[str, int]:
    with app.extensions["hub"].db.session() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every route, its arguments filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        values = {name: ARGUMENTS.get(name, "1") for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


def bad_request(client: Any, method: str, path: str, n: int, address: str) -> Any:
    """A request with made-up credentials of every kind, changing with `n` where the caller
    names something (client id, provider, token), as an attacker would."""
    data = {
        "client_id": f"made-up-{n}",
        "client_secret": "wrong",
        "grant_type": f"made_up_grant_{n}",
        "token": f"made-up-token-{n}",
        "id_token_hint": f"eyJhbGciOiJub25lIn0.e30.{n}",
        "csrf_token": f"forged-{n}",
        "logout_token": f"made-up-{n}",
        "code": f"code-{n}",
        "state": f"state-{n}",
    }
    headers = {"Authorization": f"Bearer made-up-{n}", "User-Agent": USER_AGENT}
    query = {key: data[key] for key in ("client_id", "id_token_hint", "state", "code")} | {"provider": f"made-up-{n}"}
    client.set_cookie("hub_session", f"made-up-session-{n}")
    if method in {"GET", "DELETE"}:
        return client.open(path, method=method, query_string=query, headers=headers, environ_base={"REMOTE_ADDR": address})
    return client.open(path, method=method, data=data, headers=headers, environ_base={"REMOTE_ADDR": address})


def addresses() -> Iterator[str]:
    for i in itertools.count(1):
        yield f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"


def test_every_route_answers_429_within_the_allowance_and_stores_a_bounded_number_of_rows(app: Flask) -> None:
    client = app.test_client()
    walked = routes(app)
    assert len(walked) > 40  # the whole hub, plugin routes included
    fresh = addresses()
    problems = []
    for endpoint, method, path in walked:
        if endpoint in EXEMPT:
            continue
        address = next(fresh)
        before_audit, before = audit_rows(app), table_rows(app)
        # within the budget and a little (a sliding window that starts near a minute boundary
        # weighs the previous minute's requests by the time left of it), then refused throughout
        statuses = [bad_request(client, method, path, n, address).status_code for n in range(BUDGET + 2)]
        extra = [bad_request(client, method, path, n, address).status_code for n in range(BUDGET + 2, 3 * BUDGET)]
        written = audit_rows(app) - before_audit
        grown = {name: count - before[name] for name, count in table_rows(app).items() if count > before[name]}
        grown.pop("audit_events", None)
        if 429 not in statuses or set(extra) != {429}:
            problems.append(f"{method} {path} ({endpoint}): no 429 within {BUDGET + 2} requests: {statuses} {extra[:3]}")
        if written > MAX_AUDIT_ROWS:
            problems.append(f"{method} {path} ({endpoint}): {written} audit rows for {3 * BUDGET} requests")
        if any(count > BUDGET for count in grown.values()):
            problems.append(f"{method} {path} ({endpoint}): tables grew {grown}")
    assert not problems, "\n".join(problems)


def test_exempt_routes_write_nothing(app: Flask) -> None:
    client = app.test_client()
    before = table_rows(app)
    for endpoint, method, path in routes(app):
        if endpoint in EXEMPT:
            for n in range(3 * BUDGET):
                response = bad_request(client, method, path, n, "10.9.9.9")
                response.close()
                assert response.status_code != 500
    assert table_rows(app) == before


def test_only_the_reviewed_routes_are_exempt(app: Flask) -> None:
    """An exemption from the `anonymous` allowance is a reviewed decision: the list is here."""
    app.test_client().get("/healthz")  # the limiter collects the routes' rules at the first request
    limits = app.extensions[ratelimit.EXTENSION]
    exempt = {endpoint for endpoint in app.view_functions if ratelimit.ANONYMOUS not in limits.routes.get(endpoint, ())}
    assert exempt == set(EXEMPT) | PUBLIC
    assert all(ratelimit.exemption(app, endpoint) for endpoint in exempt)


def audit_rows(app: Flask) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0
