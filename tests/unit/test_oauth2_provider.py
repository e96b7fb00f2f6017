"""`hub.oidc.OAuth2Provider` through the GitLab example of docs/plugins.md, exactly as written,
against a GitLab mocked with `responses`: the base class's authorization URL, code exchange,
profile request and its errors, refresh, RFC 7009 revocation (Authlib underneath), and no
network I/O in `__init__`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import requests
import responses

from hub.errors import (
    ConfigError,
    ProviderDenied,
    ProviderUnavailable,
    RefreshRejected,
    SignInError,
    TokenRejected,
)
from hub.http import ProviderSession
from hub.oidc import OAuth2Provider, check_callback_issuer, s256_code_challenge
from hub.provider import AuthorizationRequest, Callback, Identity, ProviderContext, Tokens

GITLAB = "https://gitlab.example"
SECRET = "gl-secret:with+odd%chars"  # noqa: S105 - a fake for tests
VERIFIER = "v" * 43
DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def example_provider_class() -> type[OAuth2Provider]:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- oauth2-provider:start -->")[1].split("<!-- oauth2-provider:end -->")[0]
    namespace: dict[str, Any] = {}
    exec(compile(block.split("```python")[1].split("```")[0], "docs/plugins.md", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["GitLabProvider"]


GitLabProvider = example_provider_class()


def make(**settings: Any) -> OAuth2Provider:
    table = {"base_url": GITLAB, "client_id": "gl-app", "client_secret": SECRET, **settings}
    context = ProviderContext(redirect_uri="https://hub.example/auth/gitlab/callback", http=ProviderSession(sleep=lambda _s: None))
    return GitLabProvider("gitlab", "GitLab", table, context)


@pytest.fixture
def gitlab() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(f"{GITLAB}/oauth/token", json={"access_token": "gl-at", "refresh_token": "gl-rt", "expires_in": 7200, "token_type": "Bearer", "scope": "read_user"})
        rsps.get(f"{GITLAB}/api/v4/user", json={"id": 4711, "username": "ada", "name": "Ada Lovelace"})
        yield rsps


def callback(**params: str) -> Callback:
    return Callback(params=params or {"code": "gl-code", "state": "s"}, code_verifier=VERIFIER, nonce="unused")


def test_init_does_no_network_io_and_settings_errors_name_the_key_not_the_secret() -> None:
    with responses.RequestsMock() as rsps:  # any request would fail: nothing is registered
        make()
        assert len(rsps.calls) == 0
    with pytest.raises(ConfigError, match=r"providers\.gitlab\.client_id"):
        make(client_id="")
    with pytest.raises(ConfigError, match=r"providers\.gitlab\.client_secret") as caught:
        make(client_secret=["not", "text"])
    assert SECRET not in str(caught.value)


def test_the_authorization_url_has_state_pkce_and_no_nonce() -> None:
    url = make().authorization_url(AuthorizationRequest(state="st", nonce="nn", code_challenge=s256_code_challenge(VERIFIER)))
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{GITLAB}/oauth/authorize"
    assert query == {
        "client_id": "gl-app", "response_type": "code", "redirect_uri": "https://hub.example/auth/gitlab/callback",
        "scope": "read_user", "state": "st", "code_challenge": s256_code_challenge(VERIFIER), "code_challenge_method": "S256",
    }  # fmt: skip


def test_sign_in_redeems_the_code_with_basic_auth_and_reads_the_profile(gitlab: responses.RequestsMock) -> None:
    result = make().complete_sign_in(callback())
    assert result.identity == Identity(subject="4711", issuer=GITLAB)
    assert (result.profile.display_name, result.profile.username, result.profile.email_verified) == ("Ada Lovelace", "ada", False)
    assert result.tokens.refresh_token == "gl-rt" and result.tokens.scopes == ("read_user",)
    token_request, profile_request = gitlab.calls[0].request, gitlab.calls[1].request
    pair = f"gl-app:{quote_plus(SECRET)}".encode()
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(pair).decode()
    form = parse_qs(token_request.body)
    assert form["code_verifier"] == [VERIFIER] and form["grant_type"] == ["authorization_code"]
    assert SECRET not in token_request.body and quote_plus(SECRET) not in token_request.body
    assert profile_request.headers["Authorization"] == "Bearer gl-at" and "gl-at" not in profile_request.url


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        ({"status": 503}, ProviderUnavailable, "provider_unavailable"),
        ({"status": 401, "json": {"message": "401 Unauthorized"}}, TokenRejected, "token_refused"),
        ({"status": 200, "body": "<html>maintenance</html>"}, ProviderUnavailable, "provider_unavailable"),
        ({"body": requests.ConnectTimeout()}, ProviderUnavailable, "provider_unavailable"),
        ({"json": {"username": "ada"}}, TokenRejected, "missing_claim"),
        ({"json": {"id": True, "username": "ada"}}, TokenRejected, "missing_claim"),
    ],
    ids=["5xx", "401", "html", "timeout", "no-id", "bool-id"],
)
def test_profile_endpoint_failures_are_hub_errors(gitlab: responses.RequestsMock, answer: dict, error: type, code: str) -> None:
    gitlab.replace("GET", f"{GITLAB}/api/v4/user", **answer)
    with pytest.raises(error) as caught:
        make().complete_sign_in(callback())
    assert caught.value.code == code


def test_an_error_answer_is_denied_with_our_sentence_and_redeems_nothing(gitlab: responses.RequestsMock) -> None:
    with pytest.raises(ProviderDenied, match="declined") as caught:
        make().complete_sign_in(callback(error="access_denied", error_description="<b>nope</b>", state="s"))
    assert caught.value.provider_code == "access_denied" and len(gitlab.calls) == 0


def test_a_provider_without_an_issuer_has_nothing_for_rfc9207_to_check() -> None:
    provider = make()
    assert provider.authorization_response_issuer() is None
    check_callback_issuer(provider, {"code": "c", "iss": "https://anyone.example"})


def test_refresh_keeps_the_old_refresh_token_and_invalid_grant_means_sign_in_again(gitlab: responses.RequestsMock) -> None:
    gitlab.replace("POST", f"{GITLAB}/oauth/token", json={"access_token": "gl-at-2", "token_type": "Bearer"})
    refreshed = make().refresh("gl-rt", Identity(subject="4711", issuer=GITLAB))
    assert (refreshed.tokens.access_token, refreshed.tokens.refresh_token, refreshed.identity) == ("gl-at-2", "gl-rt", None)
    gitlab.replace("POST", f"{GITLAB}/oauth/token", status=400, json={"error": "invalid_grant", "error_description": "gl-rt is revoked"})
    with pytest.raises(RefreshRejected) as caught:
        make().refresh("gl-rt", Identity(subject="4711", issuer=GITLAB))
    assert "gl-rt" not in caught.value.message


def test_revoke_sends_rfc7009_requests_for_both_tokens_with_client_auth(gitlab: responses.RequestsMock) -> None:
    gitlab.post(f"{GITLAB}/oauth/revoke", status=200)
    make().revoke(Tokens(access_token="gl-at", refresh_token="gl-rt"))
    revocations = [call.request for call in gitlab.calls if call.request.url.endswith("/oauth/revoke")]
    assert [parse_qs(r.body) for r in revocations] == [
        {"token": ["gl-rt"], "token_type_hint": ["refresh_token"], "client_id": ["gl-app"]},
        {"token": ["gl-at"], "token_type_hint": ["access_token"], "client_id": ["gl-app"]},
    ]
    assert all(r.headers["Authorization"].startswith("Basic ") for r in revocations)


def test_a_revocation_outage_is_provider_unavailable(gitlab: responses.RequestsMock) -> None:
    gitlab.post(f"{GITLAB}/oauth/revoke", status=503)
    with pytest.raises(ProviderUnavailable):
        make().revoke(Tokens(access_token="gl-at"))


def test_an_empty_code_or_refresh_token_never_reaches_the_token_endpoint(gitlab: responses.RequestsMock) -> None:
    """As a v1 plugin may call it (`params.get("code", "")`): a clear error, no request."""
    with pytest.raises(SignInError, match="no authorization code"):
        make().token_client.exchange_code("", "https://hub.example/cb", VERIFIER)
    with pytest.raises(RefreshRejected):
        make().token_client.refresh("")
    assert len(gitlab.calls) == 0
