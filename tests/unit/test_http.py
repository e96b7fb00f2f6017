"""Outbound HTTP: default timeouts, one retry on 429/503 honouring Retry-After within a bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from hub.errors import ProviderUnavailable
from hub.http import ProviderSession

URL = "https://idp.test/token"


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def http(waits) -> ProviderSession:
    return ProviderSession(sleep=waits.append, max_retry_after=5.0)


@responses.activate
@pytest.mark.parametrize("status", [429, 503])
def test_one_retry_after_the_advertised_delay(http, waits, status):
    responses.post(URL, status=status, headers={"Retry-After": "2"})
    responses.post(URL, status=200, json={"ok": True})
    assert http.post(URL, data={"a": "b"}).json() == {"ok": True}
    assert waits == [2.0]
    assert len(responses.calls) == 2


@responses.activate
def test_only_one_retry(http, waits):
    responses.post(URL, status=503, headers={"Retry-After": "1"})
    assert http.post(URL).status_code == 503
    assert len(responses.calls) == 2 and waits == [1.0]


@responses.activate
def test_retry_after_beyond_the_bound_is_not_waited_for(http, waits):
    responses.post(URL, status=429, headers={"Retry-After": "120"})
    assert http.post(URL).status_code == 429
    assert waits == [] and len(responses.calls) == 1


@responses.activate
def test_retry_after_as_an_http_date(http, waits):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    responses.get(URL, status=503, headers={"Retry-After": when})
    responses.get(URL, status=200)
    assert http.get(URL).status_code == 200
    assert 0 < waits[0] <= 3.0


@responses.activate
def test_no_retry_after_header_means_a_short_back_off(http, waits):
    responses.get(URL, status=503)
    responses.get(URL, status=200)
    assert http.get(URL).status_code == 200
    assert waits == [0.5]


@responses.activate
def test_other_errors_are_not_retried(http, waits):
    responses.post(URL, status=500)
    assert http.post(URL).status_code == 500
    assert waits == [] and len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize(
    "failure, phrase",
    [(requests.ConnectTimeout(), "did not answer in time"), (requests.ConnectionError(), "could not be reached")],
)
def test_network_failures_become_provider_unavailable(http, failure, phrase):
    responses.post(URL, body=failure)
    with pytest.raises(ProviderUnavailable, match=phrase) as caught:
        http.post(URL, data={"client_secret": "s3cret"})
    assert "s3cret" not in str(caught.value) and "idp.test" in str(caught.value)


def test_every_request_gets_a_timeout(monkeypatch):
    seen = {}

    def fake_request(self, method, url, *args, **kwargs):
        seen.update(kwargs)
        response = requests.Response()
        response.status_code = 200
        return response

    monkeypatch.setattr(requests.Session, "request", fake_request)
    ProviderSession().get("https://idp.test/x")
    assert seen["timeout"] == (3.05, 10.0)


def test_proxy_variables_are_honoured_per_origin(http, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "graph.test")
    proxied = http.merge_environment_settings("https://idp.test/token", {}, None, None, None)
    direct = http.merge_environment_settings("https://graph.test/v1.0/me", {}, None, None, None)
    assert proxied["proxies"]["https"] == "http://127.0.0.1:3128"
    assert "https" not in direct["proxies"]


@responses.activate
def test_the_environment_is_read_once_per_origin_not_per_call(http, monkeypatch):
    import requests.sessions

    reads: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counting(url, no_proxy=None):
        reads.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    responses.post(URL, json={"ok": True})
    responses.get("https://graph.test/v1.0/me", json={"ok": True})
    for _ in range(3):
        assert http.post(URL, data={"a": "b"}).json() == {"ok": True}
    http.get("https://graph.test/v1.0/me")
    http.get("https://graph.test/v1.0/me")
    assert reads == [URL, "https://graph.test/v1.0/me"]
