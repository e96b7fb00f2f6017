"""Prometheus metrics: what is counted, who may scrape /metrics, and that labels never carry a
person, an address or a secret. Counters are process-wide, so tests compare before and after."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.core import apikeys, metrics
from hub.core.config import load_settings, production_problems
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, LinkedAccount, TokenSet, utcnow
from hub.core.secrets import new_secrets
from hub.errors import ConfigError
from hub.http import endpoint_name
from tests.conftest import sign_in

SAFE_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@pytest.fixture
def hub_config(hub_config):
    return {**hub_config, "metrics_allow": ["127.0.0.1"]}


def scrape(client, **headers: str) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return metrics.parse(response.get_data(as_text=True))


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- labels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["alice@example.test", "https://idp.test/token?code=abc", "a b", "", "x" * 65, None, 42, "ünïcode"],
)
def test_a_value_that_is_not_a_short_identifier_becomes_other(value):
    assert metrics.label(value) == "other"


def test_identifiers_pass_and_an_allow_list_narrows_them():
    assert metrics.label("entra-2") == "entra-2"
    assert metrics.label("refresh_token") == "refresh_token"
    assert metrics.label("delivered", metrics.DELIVERY_OUTCOMES) == "delivered"
    assert metrics.label("exploded", metrics.DELIVERY_OUTCOMES) == "other"


@pytest.mark.parametrize(
    "method, url, name",
    [
        ("GET", "https://login.example/tenant/v2.0/.well-known/openid-configuration", "discovery"),
        ("GET", "https://login.example/tenant/discovery/v2.0/keys", "jwks"),
        ("POST", "https://login.example/tenant/oauth2/v2.0/token", "token"),
        ("POST", "https://github.example/login/oauth/access_token", "token"),
        ("GET", "https://graph.example/v1.0/me", "profile"),
        ("GET", "https://api.github.example/user/emails", "profile"),
        ("GET", "https://idp.example/oauth/userinfo", "userinfo"),
        ("POST", "https://idp.example/oauth/revoke", "revocation"),
        ("DELETE", "https://api.github.example/applications/Iv1.abc/token", "revocation"),
        ("GET", "https://idp.example/users/alice@example.test?secret=1", "other"),
    ],
)
def test_outbound_calls_are_named_by_a_fixed_endpoint_name(method, url, name):
    assert endpoint_name(method, url) == name


# --- who may scrape ----------------------------------------------------------------------------


def test_metrics_are_off_until_a_setting_allows_someone(hub_config, plugins):
    from hub.app import create_app

    settings = load_settings(environ={}, overrides={k: v for k, v in hub_config.items() if k != "metrics_allow"})
    app = create_app(settings=settings, plugins=plugins)
    try:
        response = app.test_client().get("/metrics")
        assert response.status_code == 404 and b"metrics_allow or metrics_token" in response.data
    finally:
        app.extensions["hub"].close()


def test_a_client_outside_metrics_allow_is_refused(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


@pytest.mark.parametrize("allow", [[], ["127.0.0.0/8"]])
def test_metrics_token_is_required_as_a_bearer_token(hub_config, plugins, allow):
    from hub.app import create_app

    token = "m" * 40
    settings = load_settings(environ={}, overrides={**hub_config, "metrics_allow": allow, "metrics_token": token})
    app = create_app(settings=settings, plugins=plugins)
    try:
        client = app.test_client()
        missing = client.get("/metrics")
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Basic {token}"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        if allow:  # both settings: the token does not open the door to other addresses
            elsewhere = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
            assert elsewhere.status_code == 403
    finally:
        app.extensions["hub"].close()


def test_metrics_settings_are_validated(tmp_path):
    with pytest.raises(ConfigError, match="metrics_allow: expected IP addresses or networks"):
        load_settings(environ={"HUB_METRICS_ALLOW": "127.0.0.1,intranet"}, overrides={"instance_path": str(tmp_path)})
    settings = load_settings(environ={"HUB_METRICS_TOKEN": "short"}, overrides={"instance_path": str(tmp_path)})
    assert any(p.startswith("metrics_token: expected at least 32") for p in production_problems(settings, {}, set()))
    assert "short" not in repr(settings)


# --- what is counted ---------------------------------------------------------------------------


def test_a_sign_in_counts_a_success_its_latency_and_its_provider_calls(client, idp):
    before = scrape(client)
    response = sign_in(client, idp, "alice")
    assert response.status_code == 302
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("hub_signins_total", provider="fake", intent="signin") == 1
    assert grew("hub_callback_duration_seconds_count", provider="fake") == 1
    assert grew("hub_provider_request_duration_seconds_count", provider="fake", endpoint="token") == 1
    assert grew("hub_provider_request_duration_seconds_count", provider="fake", endpoint="profile") == 1
    with client.application.extensions["hub"].db.session() as session:
        head = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert sample(after, "hub_audit_chain_head") == head >= 1


def test_a_failed_callback_counts_a_failure_with_its_reason(client):
    before = metrics.value("hub_signin_failures_total", provider="fake", intent="signin", reason="state_unknown")
    response = client.get("/auth/fake/callback?code=c&state=" + "s" * 43)
    assert response.status_code == 400
    after = metrics.value("hub_signin_failures_total", provider="fake", intent="signin", reason="state_unknown")
    assert after - before == 1


def test_a_provider_error_answer_is_counted_by_endpoint_and_kind(client, idp):
    idp.token_status = 500
    labels = {"provider": "fake", "endpoint": "token", "kind": "http_5xx"}
    before = metrics.value("hub_provider_request_errors_total", **labels)
    response = sign_in(client, idp, "alice")
    assert response.status_code == 503
    assert metrics.value("hub_provider_request_errors_total", **labels) - before == 1


def _expire_tokens(app) -> None:
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(TokenSet).values(access_expires_at=utcnow() - timedelta(minutes=1)))


def test_token_api_calls_and_refreshes_are_counted(app, client, idp):
    sign_in(client, idp, "alice")
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        key = apikeys.create(session, "billing-service").plaintext
    with rt.db.session() as session:
        account_id = session.scalar(select(LinkedAccount.id))
    api = app.test_client()
    path = f"/api/v1/accounts/{account_id}/access-token"
    counted = {
        "ok": ("hub_token_api_requests_total", {"outcome": "success"}),
        "bad_key": ("hub_token_api_requests_total", {"outcome": "api_key_invalid"}),
        "refreshed": ("hub_token_refreshes_total", {"provider": "fake", "outcome": "success"}),
        "refresh_failed": ("hub_token_refreshes_total", {"provider": "fake", "outcome": "failure"}),
        "reauth": ("hub_token_refresh_failures_total", {"provider": "fake", "reason": "reauth_required"}),
    }
    before = {k: metrics.value(name, **labels) for k, (name, labels) in counted.items()}

    assert api.post(path, headers={"Authorization": "Bearer hub_nope_nope"}).status_code == 401
    _expire_tokens(app)
    assert api.post(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    _expire_tokens(app)
    idp.refresh_tokens.clear()  # invalid_grant
    assert api.post(path, headers={"Authorization": f"Bearer {key}"}).status_code == 409

    grew = {k: metrics.value(name, **labels) - before[k] for k, (name, labels) in counted.items()}
    assert grew == {"ok": 1, "bad_key": 1, "refreshed": 1, "refresh_failed": 1, "reauth": 1}
    assert metrics.value("hub_token_api_requests_total", outcome="reauth_required") >= 1


def test_a_caller_that_finds_the_token_refreshed_under_the_lock_counts_a_wait(app, client, idp):
    """Single-flight: the first read saw an expiring token, but by the time this caller held
    the lock another had refreshed it, so it used that token instead of refreshing again."""
    sign_in(client, idp, "alice")
    rt = app.extensions["hub"]
    with rt.db.session() as session:
        account_id = session.scalar(select(LinkedAccount.id))
    before = metrics.value("hub_token_refresh_waits_total", provider="fake")
    token = rt.vault._refresh_single_flight(rt.db, account_id, rt.providers, rt.audit, None)
    assert token.value in idp.access and idp.token_calls == 1  # nothing spent at the provider
    assert metrics.value("hub_token_refresh_waits_total", provider="fake") - before == 1


def test_rate_limit_refusals_are_counted_by_rule(hub_config, plugins):
    from hub.app import create_app
    from tests.conftest import csrf_of

    settings = load_settings(environ={}, overrides={**hub_config, "ratelimit_signin": "2 per minute"})
    app = create_app(settings=settings, plugins=plugins)
    try:
        client = app.test_client()
        token = csrf_of(client)
        before = metrics.value("hub_ratelimit_rejections_total", limit="signin")
        codes = [client.post("/auth/fake/start", data={"csrf_token": token}).status_code for _ in range(5)]
        assert codes == [303, 303, 429, 429, 429]
        assert metrics.value("hub_ratelimit_rejections_total", limit="signin") - before == 3
    finally:
        app.extensions["hub"].close()


def test_issuer_and_rate_limit_helpers_count_under_safe_labels(client):
    metrics.issuer_grant("refresh_token", "app-1")
    metrics.issuer_grant("refresh_token", "https://evil.example/?x=1", "invalid_grant")
    metrics.backchannel_logout_delivery("app-1", "delivered")
    metrics.ratelimit_rejected("signin_start")
    samples = scrape(client)
    assert sample(samples, "hub_issuer_grants_total", grant_type="refresh_token", application="app-1", outcome="success") >= 1
    assert sample(samples, "hub_issuer_grants_total", grant_type="refresh_token", application="other", outcome="invalid_grant") >= 1
    assert sample(samples, "hub_backchannel_logout_deliveries_total", application="app-1", outcome="delivered") >= 1
    assert sample(samples, "hub_ratelimit_rejections_total", limit="signin_start") >= 1


CLOSED_LABELS = {
    ("hub_issuer_grants_total", "grant_type"): metrics.GRANT_TYPES | {metrics.OTHER},
    ("hub_issuer_grants_total", "outcome"): metrics.ISSUER_OUTCOMES | {metrics.OTHER},
    ("hub_signins_total", "intent"): metrics.INTENTS | {metrics.OTHER},
    ("hub_signin_failures_total", "intent"): metrics.INTENTS | {metrics.OTHER},
    ("hub_provider_request_errors_total", "kind"): metrics.ENDPOINT_ERRORS | {metrics.OTHER},
    ("hub_backchannel_logout_deliveries_total", "outcome"): metrics.DELIVERY_OUTCOMES | {metrics.OTHER},
    ("hub_token_refreshes_total", "outcome"): {"success", "failure"},
}
"""Labels with a fixed vocabulary; the others are ids and codes of the hub's own (providers,
applications, error codes), which `metrics.label` keeps to short identifiers."""


def test_label_sets_stay_closed_whatever_the_requests_send(client):
    """Issue 17, finding 4: `grant_type` took the request's value verbatim, so each request
    could mint a new series. Labels whose values a request (or a peer) supplies come from a
    closed set: the known values, or "other"."""
    for n in range(5):
        client.post("/oauth2/token", data={"grant_type": f"made_up_{n}", "client_id": f"made-up-{n}"})
        client.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": f"made-up-{n}", "client_secret": "x"})
        metrics.issuer_grant(f"made_up_{n}", "unknown", f"made_up_{n}")
        metrics.signin_succeeded("fake", f"made_up_{n}")
        metrics.signin_failed("fake", f"made_up_{n}", "state_mismatch")
        metrics.provider_call("fake", "token", 0.01, f"made_up_{n}")
        metrics.backchannel_logout_delivery("app-1", f"made_up_{n}")
    samples = scrape(client)
    for (name, labels), _value in samples.items():
        for key, value in labels:
            assert not value.startswith("made"), (name, labels)
            closed = CLOSED_LABELS.get((name.removesuffix("_created"), key))
            assert closed is None or value in closed, (name, labels)
    grants = [dict(labels) for (name, labels) in samples if name == "hub_issuer_grants_total"]
    assert {"grant_type": "other", "application": "unknown", "outcome": "unsupported_grant_type"} in grants


def test_no_personal_data_or_secret_reaches_a_label(app, client, idp):
    """Sign people in and out, use the token API, fail a few ways: then every label value of
    the scrape is a short identifier, and none is a person's data, a token or a cookie."""
    sign_in(client, idp, "alice")
    cookie = client.get_cookie(app.config["HUB_SESSION_COOKIE"]).value
    other = app.test_client()
    sign_in(other, idp, "bob")
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        key = apikeys.create(session, "billing-service").plaintext
    with rt.db.session() as session:
        account_id = session.scalar(select(LinkedAccount.id))
    api = app.test_client()
    api.post("/api/v1/access-token", json={"email": "alice@example.test"}, headers={"Authorization": f"Bearer {key}"})
    api.post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": "Bearer hub_wrong_wrong"})
    client.get("/auth/fake/callback?error=access_denied&error_description=alice%40example.test&state=x")

    text = client.get("/metrics").get_data(as_text=True)
    secrets = [cookie, key, *idp.access, *idp.refresh_tokens, "alice@example.test", "bob@example.test",
               "sub-alice", "sub-bob", "Alice Admin", "Bob Builder", "127.0.0.1", "billing-service"]
    for secret in secrets:
        assert secret not in text
    labels = [value for (_name, pairs) in metrics.parse(text) for (key_, value) in pairs if key_ not in {"le"}]
    assert labels and all(SAFE_LABEL.match(value) for value in labels), sorted(set(labels))


# --- under gunicorn ----------------------------------------------------------------------------


@pytest.mark.slow
def test_two_gunicorn_workers_add_up_in_every_scrape(tmp_path, database_url):
    """Refused token API calls land on both workers; every scrape, whichever worker answers it,
    reports their sum. With PostgreSQL and Redis (the PostgreSQL pass) through `hub serve
    --production`, which empties the directory at start (a stale file would break the scrape);
    otherwise through gunicorn run directly with PROMETHEUS_MULTIPROC_DIR, as an operator's own
    process manager would."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_DOTENV": str(tmp_path / "none.env"),
        "HUB_DATABASE_URL": database_url,
        "HUB_METRICS_ALLOW": "127.0.0.1",
        "HUB_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "HUB_RATELIMIT_API": "10000 per minute",  # the refusals below are the API key's, not the limit's
    }
    redis_url = os.environ.get("HUB_TEST_REDIS_URL")
    prefix = f"hub-test-metrics-{port}"
    if database_url.startswith("postgresql") and redis_url:
        (directory / "counter_999999.db").write_bytes(b"left over from the last run")
        env |= {
            "HUB_BASE_URL": "https://hub.example.test",
            **{f"HUB_{name.upper()}": value for name, value in new_secrets().items()},
            "HUB_RATELIMIT_STORAGE": redis_url,
            "HUB_RATELIMIT_KEY_PREFIX": prefix,
        }
        command = [sys.executable, "-c", "from hub.cli.main import main; main()", "serve", "--production", "--port", str(port), "--workers", "2"]
    else:
        command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "hub.wsgi:app"]
    process = subprocess.Popen(command, env=env, cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/healthz", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.2)

        def refused(_: int) -> int:
            return requests.post(f"{base}/api/v1/accounts/1/access-token", timeout=30).status_code

        sent = 0
        with ThreadPoolExecutor(6) as pool:
            while sent < 240:  # bounded: stop once both workers have counted
                assert set(pool.map(refused, range(30))) == {401}
                sent += 30
                pids = {path.name.split("_")[1] for path in directory.glob("counter_*.db")}
                if len(pids) >= 2:
                    break
        assert len(pids) >= 2, "only one worker served the requests"
        assert not (directory / "counter_999999.db").exists()
        for _ in range(6):
            answer = requests.get(f"{base}/metrics", timeout=30)
            assert answer.status_code == 200, answer.text[:500]
            samples = metrics.parse(answer.text)
            assert sample(samples, "hub_token_api_requests_total", outcome="api_key_invalid") == sent
            # bad keys are audited in aggregate (hub.web.flood): the 1st, 10th, 100th... refusal per
            # address and minute, counted by each worker (memory://) or by all (Redis)
            # (a run under load may cross a minute boundary: two windows; on PostgreSQL events wait
            # in the audit outbox until the chainer links them, so count both)
            audited = sample(samples, "hub_audit_chain_head") + sample(samples, "hub_audit_pending_events")
            assert 1 <= audited <= 2 * 3 * 2
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stderr.close()
        if env.get("HUB_RATELIMIT_STORAGE"):
            import redis

            connection = redis.Redis.from_url(env["HUB_RATELIMIT_STORAGE"])
            keys = list(connection.scan_iter(match=f"*{prefix}*"))
            if keys:
                connection.delete(*keys)
            connection.close()
