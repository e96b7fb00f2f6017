"""Outbound HTTP: default timeouts, one retry on 429/503 honouring Retry-After within a bound."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


@responses.activate
def test_every_request_gets_a_timeout(http):
    responses.get(URL)
    http.get(URL)
    http.get(URL, timeout=None)
    http.get(URL, timeout=1.5)
    assert [sent_with(i)["timeout"] for i in range(3)] == [(3.05, 10.0), (3.05, 10.0), 1.5]


def sent_with(index: int) -> dict:
    """The transport arguments (timeout, proxies, verify) of the index-th call `responses` saw."""
    return responses.calls[index].request.req_kwargs


# ---- cookies: one session serves every person's calls ------------------------------------------


@responses.activate
def test_a_cookie_a_provider_sets_is_never_sent_on_a_later_call(http):
    """Alice's sign-in gets a provider cookie; Bob's later call on the same worker's session
    must not carry it."""
    responses.post(URL, json={"ok": True}, headers={"Set-Cookie": "idp-session=alice; Path=/; Secure"})
    responses.get("https://idp.test/userinfo", json={"sub": "bob"})
    first = http.post(URL, data={"code": "alice-code"})
    http.get("https://idp.test/userinfo")
    assert first.cookies["idp-session"] == "alice"
    assert "Cookie" not in responses.calls[1].request.headers
    assert len(http.cookies) == 0


def test_over_real_http_one_persons_provider_cookie_does_not_reach_the_next_call():
    """The same over a socket: a loopback provider sets a cookie in its answer to one call and
    records the Cookie header of every call it gets."""
    seen: list[str | None] = []

    class Provider(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("Cookie"))
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Set-Cookie", f"idp-session=person-{len(seen)}; Path=/")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        http = ProviderSession()
        token_url = f"http://127.0.0.1:{server.server_port}/token"
        first = http.post(token_url, data={"code": "alice"})
        http.post(token_url, data={"code": "bob"})
        http.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert first.cookies["idp-session"] == "person-1"
    assert seen == [None, None]


@responses.activate
def test_a_cookie_is_kept_across_one_calls_redirects_only(http):
    responses.get(URL, status=302, headers={"Location": "https://idp.test/next", "Set-Cookie": "step=1; Path=/"})
    responses.get("https://idp.test/next", json={"ok": True})
    assert http.get(URL).json() == {"ok": True}
    assert responses.calls[1].request.headers["Cookie"] == "step=1"
    http.get("https://idp.test/next")
    assert "Cookie" not in responses.calls[2].request.headers


@responses.activate
def test_a_call_sends_the_cookies_it_passes(http):
    responses.get(URL, json={"ok": True})
    http.get(URL, cookies={"flavour": "plain"})
    http.get(URL)
    assert responses.calls[0].request.headers["Cookie"] == "flavour=plain"
    assert "Cookie" not in responses.calls[1].request.headers


def test_cookies_cannot_be_kept_on_the_session(http):
    with pytest.raises(TypeError, match="cookies="):
        http.cookies.set("shared", "by-everyone")


# ---- proxies and CA bundles: from the environment, read when the session is built ---------------


@responses.activate
def test_proxy_variables_are_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "graph.test,10.0.0.0/8")
    http = ProviderSession()
    for url in (URL, "https://graph.test/v1.0/me", "https://10.1.2.3/token"):
        responses.get(url)
        http.get(url)
    assert sent_with(0)["proxies"]["https"] == "http://127.0.0.1:3128"
    assert "https" not in sent_with(1)["proxies"]
    assert "https" not in sent_with(2)["proxies"]


@responses.activate
def test_a_calls_own_proxies_win(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    responses.get(URL)
    ProviderSession().get(URL, proxies={"https": "http://127.0.0.1:8080"})
    assert sent_with(0)["proxies"]["https"] == "http://127.0.0.1:8080"


@responses.activate
def test_a_redirect_out_of_no_proxy_gets_the_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "idp.test")
    responses.get(URL, status=302, headers={"Location": "https://elsewhere.test/token"})
    responses.get("https://elsewhere.test/token", json={"ok": True})
    ProviderSession().get(URL)
    assert "https" not in sent_with(0)["proxies"]
    assert sent_with(1)["proxies"]["https"] == "http://127.0.0.1:3128"


@responses.activate
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_the_ca_bundle_from_the_environment_is_used(monkeypatch, variable):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "/etc/hub/ca.pem")
    responses.get(URL)
    ProviderSession().get(URL)
    assert sent_with(0)["verify"] == "/etc/hub/ca.pem"


@responses.activate
def test_a_verify_the_caller_passes_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/hub/ca.pem")
    http = ProviderSession()
    responses.get(URL)
    http.get(URL, verify="/etc/idp/private-ca.pem")
    http.get(URL, verify=False)
    http.get(URL, verify=True)
    assert [sent_with(i)["verify"] for i in range(3)] == ["/etc/idp/private-ca.pem", False, "/etc/hub/ca.pem"]


@responses.activate
def test_the_environment_is_read_when_the_session_is_built_not_per_call(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    http = ProviderSession()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/hub/ca.pem")
    responses.get(URL)
    http.get(URL)
    assert "https" not in sent_with(0)["proxies"] and sent_with(0)["verify"] is True
