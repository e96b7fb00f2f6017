"""The core's protocol toolkit (hub.oidc), rule by rule: ID token validation, discovery and key
caches, the token endpoint; against an OpenID provider mocked at the HTTP layer
(tests/oidc_issuer.py). Moved here from the Entra plugin's tests: the toolkit is the core's."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
import responses
from cryptography import x509
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from hub.errors import (
    HubError,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    TokenRejected,
)
from hub.oidc import (
    ClientSecretBasic,
    ClientSecretPost,
    DiscoveryCache,
    IdTokenValidator,
    JwksCache,
    PrivateKeyJwt,
    TokenClient,
    TokenResponse,
    exact_issuer,
)
from hub.upstream.protocol.keys import DEFAULT_TRUSTED_REFETCHES
from tests.oidc_issuer import (
    CLIENT_ID,
    CODE,
    KEY_POOL,
    NEW_REFRESH_TOKEN,
    NONCE,
    REDIRECT_URI,
    REFRESH_TOKEN,
    SECRET,
    VERIFIER,
    Clock,
    FakeIssuer,
    make_context,
    unsigned_token,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def idp(clock: Clock) -> Iterator[FakeIssuer]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeIssuer(rsps, clock)


# --- builders -------------------------------------------------------------------------------


def discovery(idp: FakeIssuer, clock: Clock, ttl: float = 3600) -> DiscoveryCache:
    return DiscoveryCache(
        make_context().http,
        idp.discovery_url,
        accept_issuer=exact_issuer(idp.issuer),
        expected_issuer_text="the tenant's issuer",
        ttl=ttl,
        clock=clock,
    )


def validator(idp: FakeIssuer, clock: Clock, skew: float = 120) -> IdTokenValidator:
    jwks = JwksCache(make_context().http, lambda: idp.jwks_url, clock=clock)
    return IdTokenValidator(
        jwks,
        CLIENT_ID,
        lambda claims: idp.issuer,
        skew_seconds=skew,
        clock=clock,
    )


def token_client(idp: FakeIssuer, auth: Any = None) -> TokenClient:
    return TokenClient(
        make_context().http,
        lambda: idp.token_url,
        auth or ClientSecretBasic(CLIENT_ID, SECRET),
        provider_label="Test IdP",
    )


# --- ID token: claims -----------------------------------------------------------------------


def test_valid_id_token_is_accepted(idp: FakeIssuer, clock: Clock) -> None:
    validated = validator(idp, clock).validate_sign_in(idp.id_token(), NONCE)
    assert validated.claims["sub"]
    assert validated.header["alg"] == "RS256"


def test_issuer_mismatch_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    token = idp.id_token(iss="https://example.org/")
    with pytest.raises(TokenRejected, match="issued by 'https://example.org/'"):
        validator(idp, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize("claim", ["sub", "iat", "exp"])
def test_missing_required_claim_is_rejected(idp: FakeIssuer, clock: Clock, claim: str) -> None:
    token = idp.id_token(**{claim: None})
    with pytest.raises(TokenRejected, match=f"\\({claim}\\)"):
        validator(idp, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "bbbbbbbb-0000-1111-2222-cccccccccccc"},
        {"aud": None},
        {"aud": [CLIENT_ID, "https://untrusted.example"]},
        {"aud": []},
        {"azp": "bbbbbbbb-0000-1111-2222-cccccccccccc"},
    ],
    ids=["wrong-aud", "missing-aud", "extra-untrusted-aud", "empty-aud", "azp-mismatch"],
)
def test_audience_rules(idp: FakeIssuer, clock: Clock, overrides: dict[str, Any]) -> None:
    with pytest.raises(TokenRejected) as caught:
        validator(idp, clock).validate_sign_in(idp.id_token(**overrides), NONCE)
    assert caught.value.code == "audience_mismatch"


def test_audience_list_with_only_the_client_and_matching_azp_is_accepted(
    idp: FakeIssuer, clock: Clock
) -> None:
    token = idp.id_token(aud=[CLIENT_ID], azp=CLIENT_ID)
    assert validator(idp, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize("nonce", ["another-nonce", None], ids=["mismatch", "missing"])
def test_nonce_must_match(idp: FakeIssuer, clock: Clock, nonce: str | None) -> None:
    with pytest.raises(TokenRejected) as caught:
        validator(idp, clock).validate_sign_in(idp.id_token(nonce=nonce), NONCE)
    assert caught.value.code == "nonce_mismatch"


def test_refreshed_token_needs_no_nonce(idp: FakeIssuer, clock: Clock) -> None:
    assert validator(idp, clock).validate_refreshed(idp.id_token(nonce=None))


@pytest.mark.parametrize(
    ("offset", "claim", "accepted"),
    [
        (-3900 - 121, "exp", False),  # expired 121 s ago, beyond the 120 s skew
        (-3900 - 119, "exp", True),  # expired 119 s ago, within the skew
        (121, "iat", False),
        (119, "iat", True),
        (121, "nbf", False),
        (119, "nbf", True),
    ],
)
def test_time_claims_with_skew(
    idp: FakeIssuer, clock: Clock, offset: int, claim: str, accepted: bool
) -> None:
    now = int(clock())
    if claim == "exp":
        token = idp.id_token(iat=now + offset, nbf=now + offset, exp=now + offset + 3900)
    else:
        token = idp.id_token(**{claim: now + offset})
    check = validator(idp, clock)
    if accepted:
        assert check.validate_sign_in(token, NONCE)
    else:
        with pytest.raises(TokenRejected, match="clock"):
            check.validate_sign_in(token, NONCE)


def test_skew_is_configurable(idp: FakeIssuer, clock: Clock) -> None:
    token = idp.id_token(iat=int(clock()) + 30)
    with pytest.raises(TokenRejected):
        validator(idp, clock, skew=10).validate_sign_in(token, NONCE)


# --- ID token: signature and keys -----------------------------------------------------------


def test_alg_none_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    token = unsigned_token({"alg": "none", "typ": "JWT"}, idp.claims())
    with pytest.raises(TokenRejected) as caught:
        validator(idp, clock).validate_sign_in(token, NONCE)
    assert caught.value.code == "token_algorithm"


def test_hs256_signed_with_the_client_secret_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    key = OctKey.import_key(SECRET.encode() * 2)
    token = jwt.encode({"alg": "HS256"}, idp.claims(), key)
    with pytest.raises(TokenRejected, match="HS256"):
        validator(idp, clock).validate_sign_in(token, NONCE)
    assert idp.calls_to(idp.jwks_url) == []


def test_bad_rs256_signature_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    head, payload, signature = idp.id_token().split(".")
    tampered = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    with pytest.raises(TokenRejected) as caught:
        validator(idp, clock).validate_sign_in(tampered, NONCE)
    assert caught.value.code == "bad_signature"


def test_changed_payload_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    head, _payload, signature = idp.id_token().split(".")
    forged = base64.urlsafe_b64encode(json.dumps(idp.claims(sub="x")).encode()).rstrip(b"=")
    with pytest.raises(TokenRejected):
        validator(idp, clock).validate_sign_in(f"{head}.{forged.decode()}.{signature}", NONCE)


def test_no_kid_with_a_single_key_is_accepted(idp: FakeIssuer, clock: Clock) -> None:
    token = idp.id_token(header={"alg": "RS256"})
    assert validator(idp, clock).validate_sign_in(token, NONCE)


def test_no_kid_with_several_keys_tries_each_in_order(idp: FakeIssuer, clock: Clock) -> None:
    idp.keys = list(KEY_POOL)
    token = idp.id_token(key=KEY_POOL[1], header={"alg": "RS256"})
    validated = validator(idp, clock).validate_sign_in(token, NONCE)
    assert validated.signing_key.kid == KEY_POOL[1].x5t


def test_no_kid_signed_by_no_published_key_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    idp.keys = list(KEY_POOL[:2])
    token = idp.id_token(key=KEY_POOL[2], header={"alg": "RS256"})
    with pytest.raises(TokenRejected, match="signature"):
        validator(idp, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize("header_name", ["jku", "x5u", "jwk"])
def test_key_location_headers_are_ignored(idp: FakeIssuer, clock: Clock, header_name: str) -> None:
    """An attacker's own key, advertised in the header, is never used or fetched."""
    attacker = KEY_POOL[2]
    values = {
        "jku": "https://attacker.example/keys",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": RSAKey.import_key(attacker.private_key.public_key()).as_dict(private=False),
    }
    header = {"alg": "RS256", "kid": idp.keys[0].x5t, header_name: values[header_name]}
    forged = idp.id_token(key=attacker, header=header)
    with pytest.raises(TokenRejected, match="signature"):
        validator(idp, clock).validate_sign_in(forged, NONCE)
    assert all("attacker" not in call.request.url for call in idp.rsps.calls)


def test_genuine_token_with_a_jku_header_is_verified_with_the_jwks_key(
    idp: FakeIssuer, clock: Clock
) -> None:
    header = {"alg": "RS256", "kid": idp.keys[0].x5t, "jku": "https://attacker.example/keys"}
    assert validator(idp, clock).validate_sign_in(idp.id_token(header=header), NONCE)
    assert all("attacker" not in call.request.url for call in idp.rsps.calls)


def test_unknown_kid_refetches_once_and_accepts_a_rotated_key(idp: FakeIssuer, clock: Clock) -> None:
    check = validator(idp, clock)
    check.validate_sign_in(idp.id_token(), NONCE)
    idp.keys = [KEY_POOL[0], KEY_POOL[1]]  # the provider rotates
    clock.advance(3600)
    assert check.validate_sign_in(idp.id_token(key=KEY_POOL[1]), NONCE)
    assert len(idp.calls_to(idp.jwks_url)) == 2


def test_id_tokens_with_unknown_kids_refetch_within_the_trusted_budget(idp: FakeIssuer, clock: Clock) -> None:
    """ID tokens come from the token endpoint, so a new kid may refetch (a rotation), but a
    provider sending many unknown kids costs at most DEFAULT_TRUSTED_REFETCHES per minute."""
    check = validator(idp, clock)
    check.validate_sign_in(idp.id_token(), NONCE)
    clock.advance(120)
    for number in range(100):
        forged = idp.id_token(header={"alg": "RS256", "kid": f"forged-{number}"})
        with pytest.raises(TokenRejected):
            check.validate_sign_in(forged, NONCE)
    assert len(idp.calls_to(idp.jwks_url)) == 1 + DEFAULT_TRUSTED_REFETCHES
    with pytest.raises(TokenRejected):  # the same unknown kid again: no refetch in the window
        check.validate_sign_in(idp.id_token(header={"alg": "RS256", "kid": "forged-0"}), NONCE)
    clock.advance(61)
    with pytest.raises(TokenRejected):
        check.validate_sign_in(idp.id_token(header={"alg": "RS256", "kid": "again"}), NONCE)
    assert len(idp.calls_to(idp.jwks_url)) == 2 + DEFAULT_TRUSTED_REFETCHES


def test_cached_keys_survive_a_jwks_outage_but_unknown_kid_fails_closed(
    idp: FakeIssuer, clock: Clock
) -> None:
    check = validator(idp, clock)
    check.validate_sign_in(idp.id_token(), NONCE)
    idp.rsps.replace("GET", idp.jwks_url, status=503)
    clock.advance(25 * 3600)  # past the TTL: the refetch fails, the cached key still works
    assert check.validate_sign_in(idp.id_token(iat=int(clock()), exp=int(clock()) + 60), NONCE)
    with pytest.raises(ProviderUnavailable):
        check.validate_sign_in(idp.id_token(key=KEY_POOL[1]), NONCE)


def test_malformed_token_is_rejected(idp: FakeIssuer, clock: Clock) -> None:
    for garbage in ["not-a-jwt", "a.b", "ä.b.c", ""]:
        with pytest.raises(TokenRejected):
            validator(idp, clock).validate_sign_in(garbage, NONCE)


def test_weak_and_foreign_keys_in_the_jwks_are_skipped(idp: FakeIssuer, clock: Clock) -> None:
    from hub.oidc import parse_jwks

    keys = parse_jwks(
        {
            "keys": [
                {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"},
                {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
                {"kty": "RSA", "n": "!!", "e": "AQAB"},
                KEY_POOL[0].public_jwk(),
            ]
        },
        "https://example.test/keys",
    )
    assert [key.kid for key in keys] == [KEY_POOL[0].x5t]


# --- discovery ------------------------------------------------------------------------------


def test_discovery_is_cached_for_its_ttl(idp: FakeIssuer, clock: Clock) -> None:
    cache = discovery(idp, clock, ttl=3600)
    for _ in range(5):
        assert cache.get().token_endpoint == idp.token_url
    assert len(idp.calls_to(idp.discovery_url)) == 1
    clock.advance(3601)
    cache.get()
    assert len(idp.calls_to(idp.discovery_url)) == 2


def test_discovery_issuer_mismatch_is_refused(idp: FakeIssuer, clock: Clock) -> None:
    idp.discovery_issuer = "https://example.org/"
    with pytest.raises(ProviderMisconfigured) as caught:
        discovery(idp, clock).get()
    assert caught.value.code == "issuer_mismatch"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, "{}", ProviderUnavailable),
        (200, "<html>down</html>", ProviderUnavailable),
        (200, "[1, 2]", ProviderUnavailable),
        (200, '{"issuer": "x"}', ProviderUnavailable),
        (400, '{"error": "invalid_tenant"}', ProviderMisconfigured),
    ],
)
def test_discovery_failures(
    idp: FakeIssuer, clock: Clock, status: int, body: str, error: type[HubError]
) -> None:
    idp.rsps.replace("GET", idp.discovery_url, status=status, body=body)
    with pytest.raises(error):
        discovery(idp, clock).get()


def test_discovery_keeps_the_old_document_when_a_refetch_fails(idp: FakeIssuer, clock: Clock) -> None:
    cache = discovery(idp, clock, ttl=60)
    first = cache.get()
    idp.rsps.replace("GET", idp.discovery_url, body=requests.ConnectTimeout())
    clock.advance(61)
    assert cache.get() == first


# --- token endpoint -------------------------------------------------------------------------


def test_client_secret_basic_puts_the_secret_only_in_the_header(idp: FakeIssuer) -> None:
    response = token_client(idp).exchange_code(CODE, REDIRECT_URI, VERIFIER, ["openid"])
    assert response.refresh_token == NEW_REFRESH_TOKEN
    request = idp.calls_to(idp.token_url)[0].request
    expected = base64.b64encode(f"{CLIENT_ID}:{quote_plus(SECRET)}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    body = request.body if isinstance(request.body, str) else request.body.decode()
    assert "client_secret" not in body and SECRET not in body
    assert "grant_type=authorization_code" in body
    assert f"code_verifier={VERIFIER}" in body


def test_client_secret_post_puts_the_secret_in_the_body(idp: FakeIssuer) -> None:
    token_client(idp, ClientSecretPost(CLIENT_ID, SECRET)).refresh(REFRESH_TOKEN)
    request = idp.calls_to(idp.token_url)[0].request
    assert "Authorization" not in request.headers
    assert "client_secret=Zx8Q" in request.body
    assert "grant_type=refresh_token" in request.body


def test_private_key_jwt_sends_an_rs256_assertion_with_x5t_s256(idp: FakeIssuer, clock: Clock) -> None:
    certified = KEY_POOL[1]
    auth = PrivateKeyJwt.from_pem(
        CLIENT_ID, certified.private_key_pem(), certified.certificate_pem(), clock=clock
    )
    token_client(idp, auth).exchange_code(CODE, REDIRECT_URI, VERIFIER)
    request = idp.calls_to(idp.token_url)[0].request
    form = dict(item.split("=", 1) for item in request.body.split("&"))
    assert form["client_assertion_type"].endswith("jwt-bearer")
    assertion = jwt.decode(form["client_assertion"], RSAKey.import_key(certified.private_key.public_key()))
    assert assertion.header == {"typ": "JWT", "alg": "RS256", "x5t#S256": certified.x5t_s256}
    assert assertion.claims["aud"] == idp.token_url
    assert assertion.claims["iss"] == assertion.claims["sub"] == CLIENT_ID
    assert assertion.claims["exp"] - assertion.claims["iat"] == 600
    assert "Authorization" not in request.headers


def test_private_key_jwt_refuses_a_certificate_of_another_key() -> None:
    with pytest.raises(ValueError, match="does not belong"):
        PrivateKeyJwt.from_pem(CLIENT_ID, KEY_POOL[0].private_key_pem(), KEY_POOL[1].certificate_pem())
    assert isinstance(KEY_POOL[0].certificate, x509.Certificate)


def _oauth_error(error: str, code: int = 70008, description: str | None = None) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": description or f"AADSTS{code}: Something happened.\r\nTrace ID: t",
        "error_codes": [code],
    }


def test_invalid_grant_on_code_exchange_is_token_rejected(idp: FakeIssuer) -> None:
    idp.token_status, idp.token_body = 400, _oauth_error("invalid_grant", 54005)
    with pytest.raises(TokenRejected, match="Something happened"):
        token_client(idp).exchange_code(CODE, REDIRECT_URI, VERIFIER)


def test_invalid_grant_on_refresh_is_refresh_rejected(idp: FakeIssuer) -> None:
    idp.token_status, idp.token_body = 400, _oauth_error("invalid_grant", 700082)
    with pytest.raises(RefreshRejected):
        token_client(idp).refresh(REFRESH_TOKEN)


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_client_says_the_secret_is_wrong_or_expired(idp: FakeIssuer, status: int) -> None:
    idp.token_status, idp.token_body = status, _oauth_error("invalid_client", 7000215)
    with pytest.raises(ProviderMisconfigured, match="wrong or expired"):
        token_client(idp).exchange_code(CODE, REDIRECT_URI, VERIFIER)


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "body": "{}"},
        {"status": 502, "body": "<html>Bad gateway</html>"},
        {"status": 200, "body": "<html>login page</html>"},
        {"status": 200, "body": '{"access_token": '},
        {"status": 200, "body": '{"token_type": "Bearer"}'},
        {"status": 400, "body": "<html>oops</html>"},
        {"status": 429, "body": "{}", "headers": {"Retry-After": "120"}},
        {"body": requests.ReadTimeout()},
        {"body": requests.ConnectionError()},
    ],
    ids=["500", "502-html", "200-html", "bad-json", "no-token", "400-html", "429", "timeout", "down"],
)
def test_token_endpoint_outages_are_provider_unavailable(idp: FakeIssuer, answer: dict[str, Any]) -> None:
    idp.rsps.replace("POST", idp.token_url, **answer)
    with pytest.raises(ProviderUnavailable):
        token_client(idp).exchange_code(CODE, REDIRECT_URI, VERIFIER)


def test_consent_required_at_the_token_endpoint(idp: FakeIssuer) -> None:
    idp.token_status, idp.token_body = 400, _oauth_error("consent_required", 65001)
    with pytest.raises(TokenRejected, match="consent"):
        token_client(idp).exchange_code(CODE, REDIRECT_URI, VERIFIER)
    with pytest.raises(RefreshRejected):
        token_client(idp).refresh(REFRESH_TOKEN)


def test_error_description_is_redacted_and_secrets_never_leak(idp: FakeIssuer) -> None:
    """Even a provider that echoes what it got cannot put a secret into a message."""
    client = token_client(idp)
    cases = [
        (lambda: client.exchange_code(CODE, REDIRECT_URI, VERIFIER), (CODE, VERIFIER, SECRET)),
        (lambda: client.refresh(REFRESH_TOKEN), (REFRESH_TOKEN, SECRET)),
    ]
    for call, secrets in cases:
        echoed = "AADSTS70000: got " + " and ".join(secrets)
        idp.token_status, idp.token_body = 400, _oauth_error("invalid_grant", 70000, echoed)
        with pytest.raises(HubError) as caught:
            call()
        error = caught.value
        text = f"{error} {error!r} {error.hint} {error.provider_code}"
        assert all(secret not in text for secret in secrets)
        assert "[redacted]" in str(error)


def test_reprs_hide_secrets() -> None:
    response = TokenResponse(
        access_token="at-secret-value", refresh_token=REFRESH_TOKEN, id_token="id-secret-value"
    )
    tokens = response.to_tokens(0)
    texts = [
        repr(response),
        repr(tokens),
        repr(ClientSecretBasic(CLIENT_ID, SECRET)),
        repr(ClientSecretPost(CLIENT_ID, SECRET)),
        repr(
            PrivateKeyJwt.from_pem(CLIENT_ID, KEY_POOL[0].private_key_pem(), KEY_POOL[0].certificate_pem())
        ),
    ]
    for text in texts:
        for secret in ("at-secret-value", REFRESH_TOKEN, "id-secret-value", SECRET, "PRIVATE"):
            assert secret not in text


def test_retry_after_within_bounds_is_retried_once(idp: FakeIssuer) -> None:
    idp.rsps.replace("POST", idp.token_url, status=503, headers={"Retry-After": "1"}, body="{}")
    idp.rsps.add("POST", idp.token_url, json=idp.token_response())
    # responses serves registrations for one URL in order: first the 503, then the success
    assert token_client(idp).exchange_code(CODE, REDIRECT_URI, VERIFIER).access_token
    assert len(idp.calls_to(idp.token_url)) == 2
