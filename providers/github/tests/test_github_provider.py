"""The `github` provider against the fake GitHub over real sockets on 127.0.0.1: PKCE, profile
and verified email, numeric-id subjects, GitHub's 200-status errors, refresh rotation."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hub.errors import (
    ConfigError,
    ProviderDenied,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    TokenRejected,
)
from hub.http import ProviderSession
from hub.provider import AuthorizationRequest, Callback, Identity, ProviderContext
from hub_github import GitHubProvider, hub_api_version, hub_provider_types
from hub_github.fake import CLIENT_SECRET, FakeGitHub

REDIRECT_URI = "http://127.0.0.1:5001/auth/github/callback"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.auto_sign_in = "ada"
        yield fake


def make_provider(github: FakeGitHub, **overrides: Any) -> GitHubProvider:
    context = ProviderContext(redirect_uri=REDIRECT_URI, http=ProviderSession(timeout=(2, 1), sleep=lambda _s: None))
    return GitHubProvider("github", "GitHub", github.provider_settings(**overrides), context)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize(provider: GitHubProvider) -> tuple[dict[str, str], str]:
    verifier, challenge = pkce()
    url = provider.authorization_url(AuthorizationRequest("state-1", "unused-nonce", challenge))
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}, verifier


def sign_in(provider: GitHubProvider) -> Any:
    params, verifier = authorize(provider)
    return provider.complete_sign_in(Callback(params, verifier, "unused-nonce"))


def test_the_plugin_declares_its_type_and_api_version() -> None:
    assert hub_api_version == 1 and hub_provider_types() == [GitHubProvider]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [({"client_id": None}, "client_id"), ({"client_secret": ""}, "client_secret"),
     ({"api_base_url": "http://api.github.example"}, "api_base_url"), ({"scopes": 3}, "scopes"), ({"tenant": "x"}, "tenant")],
)  # fmt: skip
def test_bad_settings_name_the_setting(github: FakeGitHub, overrides: dict, key: str) -> None:
    settings = {k: v for k, v in github.provider_settings(**overrides).items() if v is not None}
    with pytest.raises(ConfigError, match=rf"providers\.github\.{key}"):
        GitHubProvider("github", "GitHub", settings, ProviderContext(REDIRECT_URI, ProviderSession()))


def test_authorization_url_sends_s256_pkce_state_and_default_scopes(github: FakeGitHub) -> None:
    url = make_provider(github).authorization_url(AuthorizationRequest("st", "nn", "c" * 43, prompt="select_account"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert urlsplit(url).path == "/login/oauth/authorize"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == "c" * 43
    assert query["state"] == "st" and query["scope"] == "read:user user:email" and query["prompt"] == "select_account"
    assert query["redirect_uri"] == REDIRECT_URI and "nonce" not in query


def test_sign_in_keys_on_the_numeric_id_with_the_verified_primary_email(github: FakeGitHub) -> None:
    result = sign_in(make_provider(github))
    assert result.identity.subject == "4242424" and result.identity.issuer == github.base_url
    assert (result.profile.display_name, result.profile.username) == ("Ada Example", "ada")
    assert (result.profile.email, result.profile.email_verified) == ("ada@example.test", True)
    assert result.tokens.refresh_token and result.tokens.expires_at is not None
    assert result.tokens.scopes == ("read:user", "user:email")  # GitHub's commas split


def test_an_unverified_primary_email_is_never_used(github: FakeGitHub) -> None:
    github.auto_sign_in = "octocat"
    result = sign_in(make_provider(github))
    assert result.profile.email is None and result.profile.email_verified is False


def test_a_renamed_login_or_changed_email_keeps_the_subject(github: FakeGitHub) -> None:
    provider = make_provider(github)
    first = sign_in(provider)
    github.rename("ada", "ada-renamed")
    github.change_email("ada-renamed", "ada@new.example")
    github.auto_sign_in = "ada-renamed"
    second = sign_in(provider)
    assert second.identity.subject == first.identity.subject
    assert (second.profile.username, second.profile.email) == ("ada-renamed", "ada@new.example")


def test_a_wrong_pkce_verifier_is_refused(github: FakeGitHub) -> None:
    provider = make_provider(github)
    params, _ = authorize(provider)
    with pytest.raises(TokenRejected) as caught:
        provider.complete_sign_in(Callback(params, "a-different-verifier-" + "x" * 30, ""))
    assert caught.value.provider_code == "bad_verification_code"


@pytest.mark.parametrize("status", [200, 400])
def test_token_errors_are_failures_whatever_the_status(github: FakeGitHub, status: int) -> None:
    provider = make_provider(github)
    params, verifier = authorize(provider)
    github.misbehave("token_error", error="bad_verification_code", status=status)
    with pytest.raises(TokenRejected):
        provider.complete_sign_in(Callback(params, verifier, ""))


def test_a_reused_code_is_bad_verification_code(github: FakeGitHub) -> None:
    provider = make_provider(github)
    params, verifier = authorize(provider)
    provider.complete_sign_in(Callback(params, verifier, ""))
    with pytest.raises(TokenRejected, match="bad_verification_code|refused the grant"):
        provider.complete_sign_in(Callback(params, verifier, ""))


def test_incorrect_client_credentials_is_misconfiguration_and_hides_the_secret(github: FakeGitHub) -> None:
    provider = make_provider(github, client_secret="wrong-secret-value")
    params, verifier = authorize(provider)
    with pytest.raises(ProviderMisconfigured) as caught:
        provider.complete_sign_in(Callback(params, verifier, ""))
    assert "wrong-secret-value" not in str(caught.value) and CLIENT_SECRET not in str(caught.value)
    assert caught.value.provider_code == "incorrect_client_credentials"


def test_a_revoked_app_gives_a_clear_error(github: FakeGitHub) -> None:
    provider = make_provider(github)
    params, verifier = authorize(provider)
    tokens = provider.token_client.exchange_code(params["code"], REDIRECT_URI, verifier)
    github.revoke_app("ada")
    with pytest.raises(TokenRejected, match="revoked"):
        provider._api(tokens.access_token, "/user")


def test_an_authorization_error_is_a_friendly_denial(github: FakeGitHub) -> None:
    with pytest.raises(ProviderDenied, match="declined"):
        make_provider(github).complete_sign_in(Callback({"error": "access_denied", "state": "s"}, "v", ""))


@pytest.mark.parametrize("failure", [{"name": "http_error", "endpoint": "token", "status": 502},
                                     {"name": "slow", "endpoint": "token", "seconds": 1.5}])  # fmt: skip
def test_outages_and_timeouts_are_provider_unavailable(github: FakeGitHub, failure: dict) -> None:
    provider = make_provider(github)
    params, verifier = authorize(provider)
    github.misbehave(**failure)
    with pytest.raises(ProviderUnavailable):
        provider.complete_sign_in(Callback(params, verifier, ""))


def test_refresh_rotates_and_the_old_refresh_token_is_spent(github: FakeGitHub) -> None:
    provider = make_provider(github)
    first = sign_in(provider)
    previous = Identity(subject=first.identity.subject, issuer=first.identity.issuer)
    refreshed = provider.refresh(first.tokens.refresh_token, previous)
    assert refreshed.tokens.refresh_token not in (None, first.tokens.refresh_token)
    with pytest.raises(RefreshRejected):
        provider.refresh(first.tokens.refresh_token, previous)


def test_the_token_endpoint_is_asked_for_json(github: FakeGitHub) -> None:
    # Without Accept: application/json GitHub answers form-encoded; the provider always asks for JSON.
    response = requests.post(f"{github.base_url}/login/oauth/access_token", data={"client_id": "x"}, timeout=5)
    assert response.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert sign_in(make_provider(github)).tokens.access_token.startswith("ghu_")


def test_revoke_deletes_the_token(github: FakeGitHub) -> None:
    provider = make_provider(github)
    result = sign_in(provider)
    provider.revoke(result.tokens)
    with pytest.raises(TokenRejected):
        provider._api(result.tokens.access_token, "/user")
