"""The `oidc` provider against an OpenID provider mocked with `responses`: settings, discovery,
ID token rules, RFC 9207, userinfo, refresh, logout URL and back-channel logout tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from hub.errors import (
    ConfigError,
    ProviderDenied,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    TokenRejected,
)
from hub.oidc import BACKCHANNEL_LOGOUT_EVENT, check_callback_issuer
from hub.provider import AuthorizationRequest, Callback, Identity, LogoutRequest, SignInResult
from hub_oidc import OidcProvider, hub_api_version, hub_provider_types
from hub_oidc.testing import (
    CODE,
    ISSUER,
    NONCE,
    SECRET,
    SUB,
    VERIFIER,
    FakeOpenIdProvider,
    callback,
    make_provider,
)


@pytest.fixture
def op() -> Iterator[FakeOpenIdProvider]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOpenIdProvider(rsps)


def test_the_plugin_declares_its_type_and_api_version() -> None:
    assert hub_api_version == 1 and hub_provider_types() == [OidcProvider]
    assert OidcProvider.type_name == "oidc"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"issuer": None}, "issuer"),
        ({"issuer": "http://op.example.test"}, "issuer"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": None}, "client_secret"),
        ({"scopes": ["profile"]}, "scopes"),
        ({"userinfo": "yes"}, "userinfo"),
        ({"client_auth_method": "none"}, "client_auth_method"),
        ({"role_map": {"a": 1}}, "role_map"),
        ({"authorize_params": {"state": "x"}}, "authorize_params"),
        ({"isuer": ISSUER}, "isuer"),
    ],
)
def test_bad_settings_name_the_setting(overrides: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"providers\.op\.{key}"):
        make_provider(**overrides)


def test_settings_never_show_the_secret() -> None:
    provider = make_provider()
    assert SECRET not in repr(provider) and SECRET not in repr(provider.config)


def test_authorization_url_has_pkce_state_nonce_and_configured_extras(op: FakeOpenIdProvider) -> None:
    provider = make_provider(authorize_params={"access_type": "offline"})
    url = provider.authorization_url(AuthorizationRequest("st", "nn", "ch" * 22, prompt="select_account"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{ISSUER}/authorize?")
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == "ch" * 22
    assert (query["state"], query["nonce"], query["response_type"]) == ("st", "nn", "code")
    assert query["scope"] == "openid profile email" and query["access_type"] == "offline"
    assert query["prompt"] == "select_account"


def test_sign_in_validates_the_id_token_and_maps_identity_profile_and_roles(op: FakeOpenIdProvider) -> None:
    result = make_provider().complete_sign_in(callback())
    assert result.identity.subject == SUB and result.identity.issuer == ISSUER
    assert result.identity.session_id == "op-session-1" and result.identity.roles == {"admin"}
    assert (result.profile.display_name, result.profile.email, result.profile.email_verified) == ("Ada Lovelace", "ada@example.test", True)
    form = op.token_requests[0]
    assert form["code"] == [CODE] and form["code_verifier"] == [VERIFIER]
    assert "client_secret" not in form  # client_secret_basic: the secret is in the header only


def test_discovery_must_name_exactly_the_configured_issuer(op: FakeOpenIdProvider) -> None:
    op.document["issuer"] = ISSUER + "/"
    with pytest.raises(ProviderMisconfigured, match="issuer"):
        make_provider().complete_sign_in(callback())
    assert op.token_requests == []


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://example.org/"}, "issuer_mismatch"),
        ({"aud": "someone-else"}, "audience_mismatch"),
        ({"aud": ["hub-client", "other"]}, "audience_mismatch"),
        ({"nonce": "other"}, "nonce_mismatch"),
        ({"nonce": None}, "nonce_mismatch"),
        ({"sub": None}, "missing_claim"),
        ({"exp": int(time.time()) - 3600}, "token_expired"),
    ],
)
def test_id_tokens_breaking_a_rule_are_rejected_before_userinfo(op: FakeOpenIdProvider, claims: dict, code: str) -> None:
    op.token_body = op.token_response(op.id_token(**claims))
    with pytest.raises(TokenRejected) as caught:
        make_provider(userinfo=True).complete_sign_in(callback())
    assert caught.value.code == code
    assert not [c for c in op.rsps.calls if c.request.url.endswith("/userinfo")]


def test_a_token_signed_with_another_key_is_rejected(op: FakeOpenIdProvider) -> None:
    op.token_body = op.token_response(op.sign(op.claims(), other_key=True))
    with pytest.raises(TokenRejected, match="signature"):
        make_provider().complete_sign_in(callback())


def test_alg_none_is_rejected(op: FakeOpenIdProvider) -> None:
    token = op.id_token()
    head = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    op.token_body = op.token_response(f"{head}.{token.split('.')[1]}.")
    with pytest.raises(TokenRejected):
        make_provider().complete_sign_in(callback())


@pytest.mark.parametrize("sent", [None, "https://evil.example"])
def test_rfc9207_iss_is_required_when_advertised_and_checked_before_redeeming(op: FakeOpenIdProvider, sent: str | None) -> None:
    op.document["authorization_response_iss_parameter_supported"] = True
    params = {"code": CODE, "state": "s1", **({"iss": sent} if sent else {})}
    with pytest.raises(TokenRejected) as caught:
        as_the_core_does(make_provider(), callback(**params))
    assert caught.value.code == "issuer_mismatch" and op.token_requests == []


def test_rfc9207_a_correct_iss_is_accepted_and_a_wrong_one_refused_even_unadvertised(op: FakeOpenIdProvider) -> None:
    assert as_the_core_does(make_provider(), callback(code=CODE, state="s", iss=ISSUER)).identity.subject == SUB
    with pytest.raises(TokenRejected):
        as_the_core_does(make_provider(), callback(code=CODE, state="s", iss="https://other.example"))
    assert len(op.token_requests) == 1


def as_the_core_does(provider: OidcProvider, answer: Callback) -> SignInResult:
    """hub.upstream.callback's order: the RFC 9207 check, then the provider."""
    check_callback_issuer(provider, answer.params)
    return provider.complete_sign_in(answer)


def test_userinfo_is_merged_when_configured(op: FakeOpenIdProvider) -> None:
    op.userinfo_body = {"sub": SUB, "name": "Ada L.", "given_name": "Ada"}
    result = make_provider(userinfo=True).complete_sign_in(callback())
    assert result.profile.display_name == "Ada L." and result.profile.given_name == "Ada"
    userinfo = [c for c in op.rsps.calls if c.request.url.endswith("/userinfo")][0]
    assert userinfo.request.headers["Authorization"].startswith("Bearer ")


def test_userinfo_about_someone_else_is_rejected(op: FakeOpenIdProvider) -> None:
    op.userinfo_body = {"sub": "someone-else"}
    with pytest.raises(TokenRejected) as caught:
        make_provider(userinfo=True).complete_sign_in(callback())
    assert caught.value.code == "subject_mismatch"


def test_an_error_answer_becomes_a_friendly_denial_without_the_providers_text(op: FakeOpenIdProvider) -> None:
    with pytest.raises(ProviderDenied) as caught:
        make_provider().complete_sign_in(callback(error="access_denied", error_description="<script>x</script>"))
    assert "script" not in caught.value.message and caught.value.provider_code == "access_denied"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_grant"}, TokenRejected),
        (401, {"error": "invalid_client"}, ProviderMisconfigured),
        (503, {"error": "temporarily_unavailable"}, ProviderUnavailable),
    ],
)
def test_token_errors_map_to_hub_errors(op: FakeOpenIdProvider, status: int, body: dict, error: type) -> None:
    op.token_status, op.token_body = status, body
    with pytest.raises(error) as caught:
        make_provider().complete_sign_in(callback())
    assert SECRET not in str(caught.value) and CODE not in str(caught.value)


def test_refresh_checks_the_new_id_token_names_the_same_person(op: FakeOpenIdProvider) -> None:
    previous = Identity(subject=SUB, issuer=ISSUER)
    op.token_body = op.token_response(op.id_token(nonce=None))
    result = make_provider().refresh("op-refresh-old", previous)
    assert result.identity is not None and result.identity.subject == SUB
    assert result.tokens.refresh_token != "op-refresh-old"
    op.token_body = op.token_response(op.id_token(nonce=None, sub="someone-else"))
    with pytest.raises(TokenRejected) as caught:
        make_provider().refresh("op-refresh-old", previous)
    assert caught.value.code == "subject_mismatch"


def test_refresh_without_rotation_keeps_the_refresh_token_and_invalid_grant_is_refresh_rejected(op: FakeOpenIdProvider) -> None:
    op.token_body = {"access_token": "a2", "token_type": "Bearer", "expires_in": 60}
    result = make_provider().refresh("op-refresh-old", Identity(subject=SUB, issuer=ISSUER))
    assert result.tokens.refresh_token == "op-refresh-old" and result.identity is None
    op.token_status, op.token_body = 400, {"error": "invalid_grant"}
    with pytest.raises(RefreshRejected):
        make_provider().refresh("op-refresh-old", Identity(subject=SUB, issuer=ISSUER))


def test_end_session_url_uses_only_cached_discovery(op: FakeOpenIdProvider) -> None:
    provider = make_provider()
    assert provider.end_session_url("http://hub/login") is None  # nothing cached: no network on logout
    provider.complete_sign_in(callback())
    url = provider.end_session_url("http://hub/login")
    assert url is not None and url.startswith(f"{ISSUER}/logout?") and "post_logout_redirect_uri=http%3A%2F%2Fhub%2Flogin" in url


# --- back-channel logout tokens (L03) ---------------------------------------------------------


def test_a_valid_logout_token_names_sid_and_subject(op: FakeOpenIdProvider) -> None:
    request = make_provider().backchannel_logout(op.logout_token())
    assert request is not None and (request.sid, request.subject) == ("op-session-1", SUB)


def test_a_logout_token_hands_its_jti_and_how_long_to_remember_it_to_the_core(op: FakeOpenIdProvider) -> None:
    """The core's replay store (in the database, across workers) keys on jti until expires_at:
    the token's exp plus the clock-skew tolerance, as long as the token could be accepted."""
    exp = int(time.time()) + 100
    request = make_provider().backchannel_logout(op.logout_token(jti="logout-jti-1", exp=exp))
    assert request is not None and request.jti == "logout-jti-1"
    assert request.expires_at == datetime.fromtimestamp(exp + 120, UTC)


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ({"typ": "JWT"}, {}),
        ({}, {"events": None}),
        ({}, {"events": {"http://schemas.openid.net/event/other": {}}}),
        ({}, {"nonce": NONCE}),
        ({}, {"aud": "other-client"}),
        ({}, {"iss": "https://example.org/"}),
        ({}, {"sid": None, "sub": None}),
        ({}, {"exp": int(time.time()) - 3600}),
        ({}, {"iat": None}),
        ({}, {"jti": None}),
        ({}, {"jti": 7}),
        ({}, {"exp": 10**20}),
    ],
    ids=["typ", "no-events", "wrong-event", "nonce", "aud", "iss", "no-sid-sub", "expired", "no-iat", "no-jti", "jti-not-text", "exp-beyond-time"],
)
def test_bad_logout_tokens_are_rejected(op: FakeOpenIdProvider, header: dict, claims: dict) -> None:
    with pytest.raises(TokenRejected):
        make_provider().backchannel_logout(op.logout_token(header=header, **claims))


def test_logout_token_alg_none_and_replays_are_rejected(op: FakeOpenIdProvider) -> None:
    provider = make_provider()
    token = op.logout_token()
    request = provider.backchannel_logout(token)
    assert isinstance(request, LogoutRequest) and (request.sid, request.subject) == ("op-session-1", SUB)
    with pytest.raises(TokenRejected, match="already used"):
        provider.backchannel_logout(token)
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoibG9nb3V0K2p3dCJ9." + token.split(".")[1] + "."
    with pytest.raises(TokenRejected):
        provider.backchannel_logout(unsigned)


def test_a_logout_token_without_typ_is_accepted(op: FakeOpenIdProvider) -> None:
    token = op.sign(op.logout_claims(events={BACKCHANNEL_LOGOUT_EVENT: {}}, sid="op-session-untyped"))
    request = make_provider().backchannel_logout(token)
    assert isinstance(request, LogoutRequest) and (request.sid, request.subject) == ("op-session-untyped", SUB)


def test_frontchannel_logout_needs_a_sid_and_the_right_issuer() -> None:
    provider = make_provider()
    assert provider.frontchannel_logout({"sid": "s1", "iss": ISSUER}) == "s1"
    assert provider.frontchannel_origins == (ISSUER,)
    for params in ({}, {"sid": "s1", "iss": "https://other.example"}):
        with pytest.raises(Exception, match="session|issuer"):
            provider.frontchannel_logout(params)


def test_nonce_constant_matches_the_callback() -> None:
    assert callback().nonce == NONCE


def test_health_reports_discovery_and_keys(op: FakeOpenIdProvider) -> None:
    checks = make_provider().health()
    assert [(c.name, c.ok) for c in checks] == [("OpenID configuration", True), ("Signing keys", True)]
    assert "1 RSA signing key(s)" in checks[1].detail


def test_health_reports_unreachable_keys_without_raising(op: FakeOpenIdProvider) -> None:
    op.rsps.replace(responses.GET, f"{ISSUER}/jwks", status=503)
    checks = make_provider().health()
    assert [(c.name, c.ok) for c in checks] == [("OpenID configuration", True), ("Signing keys", False)]
