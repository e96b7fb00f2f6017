"""hub.oidc, rule by rule: ID token validation, discovery and key caches, token endpoint."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
from cryptography import x509
from hub_entra.testing import (
    _KEY_POOL,
    CLIENT_ID,
    CODE,
    NEW_REFRESH_TOKEN,
    NONCE,
    REDIRECT_URI,
    REFRESH_TOKEN,
    SECRET,
    VERIFIER,
    Clock,
    FakeEntra,
    make_context,
    unsigned_token,
)
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
from hub.oidc.keys import DEFAULT_TRUSTED_REFETCHES

# --- builders -------------------------------------------------------------------------------


def discovery(entra: FakeEntra, clock: Clock, ttl: float = 3600) -> DiscoveryCache:
    return DiscoveryCache(
        make_context().http,
        entra.discovery_url,
        accept_issuer=exact_issuer(f"{entra.host}/{entra.tenant}/v2.0"),
        expected_issuer_text="the tenant's issuer",
        ttl=ttl,
        clock=clock,
    )


def validator(entra: FakeEntra, clock: Clock, skew: float = 120) -> IdTokenValidator:
    jwks = JwksCache(make_context().http, lambda: entra.jwks_url, clock=clock)
    return IdTokenValidator(
        jwks,
        CLIENT_ID,
        lambda claims: f"{entra.host}/{entra.tenant}/v2.0",
        skew_seconds=skew,
        clock=clock,
    )


def token_client(entra: FakeEntra, auth: Any = None) -> TokenClient:
    return TokenClient(
        make_context().http,
        lambda: entra.token_url,
        auth or ClientSecretBasic(CLIENT_ID, SECRET),
        provider_label="Test IdP",
    )


# --- ID token: claims -----------------------------------------------------------------------


def test_valid_id_token_is_accepted(entra: FakeEntra, clock: Clock) -> None:
    validated = validator(entra, clock).validate_sign_in(entra.id_token(), NONCE)
    assert validated.claims["oid"]
    assert validated.header["alg"] == "RS256"


def test_issuer_mismatch_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    token = entra.id_token(iss="https://example.org/")
    with pytest.raises(TokenRejected, match="issued by 'https://example.org/'"):
        validator(entra, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize("claim", ["sub", "iat", "exp"])
def test_missing_required_claim_is_rejected(entra: FakeEntra, clock: Clock, claim: str) -> None:
    token = entra.id_token(**{claim: None})
    with pytest.raises(TokenRejected, match=f"\\({claim}\\)"):
        validator(entra, clock).validate_sign_in(token, NONCE)


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
def test_audience_rules(entra: FakeEntra, clock: Clock, overrides: dict[str, Any]) -> None:
    with pytest.raises(TokenRejected) as caught:
        validator(entra, clock).validate_sign_in(entra.id_token(**overrides), NONCE)
    assert caught.value.code == "audience_mismatch"


def test_audience_list_with_only_the_client_and_matching_azp_is_accepted(
    entra: FakeEntra, clock: Clock
) -> None:
    token = entra.id_token(aud=[CLIENT_ID], azp=CLIENT_ID)
    assert validator(entra, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize("nonce", ["another-nonce", None], ids=["mismatch", "missing"])
def test_nonce_must_match(entra: FakeEntra, clock: Clock, nonce: str | None) -> None:
    with pytest.raises(TokenRejected) as caught:
        validator(entra, clock).validate_sign_in(entra.id_token(nonce=nonce), NONCE)
    assert caught.value.code == "nonce_mismatch"


def test_refreshed_token_needs_no_nonce(entra: FakeEntra, clock: Clock) -> None:
    assert validator(entra, clock).validate_refreshed(entra.id_token(nonce=None))


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
    entra: FakeEntra, clock: Clock, offset: int, claim: str, accepted: bool
) -> None:
    now = int(clock())
    if claim == "exp":
        token = entra.id_token(iat=now + offset, nbf=now + offset, exp=now + offset + 3900)
    else:
        token = entra.id_token(**{claim: now + offset})
    check = validator(entra, clock)
    if accepted:
        assert check.validate_sign_in(token, NONCE)
    else:
        with pytest.raises(TokenRejected, match="clock"):
            check.validate_sign_in(token, NONCE)


def test_skew_is_configurable(entra: FakeEntra, clock: Clock) -> None:
    token = entra.id_token(iat=int(clock()) + 30)
    with pytest.raises(TokenRejected):
        validator(entra, clock, skew=10).validate_sign_in(token, NONCE)


# --- ID token: signature and keys -----------------------------------------------------------


def test_alg_none_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    token = unsigned_token({"alg": "none", "typ": "JWT"}, entra.claims())
    with pytest.raises(TokenRejected) as caught:
        validator(entra, clock).validate_sign_in(token, NONCE)
    assert caught.value.code == "token_algorithm"


def test_hs256_signed_with_the_client_secret_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    key = OctKey.import_key(SECRET.encode() * 2)
    token = jwt.encode({"alg": "HS256"}, entra.claims(), key)
    with pytest.raises(TokenRejected, match="HS256"):
        validator(entra, clock).validate_sign_in(token, NONCE)
    assert entra.calls_to(entra.jwks_url) == []


def test_bad_rs256_signature_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    head, payload, signature = entra.id_token().split(".")
    tampered = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    with pytest.raises(TokenRejected) as caught:
        validator(entra, clock).validate_sign_in(tampered, NONCE)
    assert caught.value.code == "bad_signature"


def test_changed_payload_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    head, _payload, signature = entra.id_token().split(".")
    forged = base64.urlsafe_b64encode(json.dumps(entra.claims(oid="x")).encode()).rstrip(b"=")
    with pytest.raises(TokenRejected):
        validator(entra, clock).validate_sign_in(f"{head}.{forged.decode()}.{signature}", NONCE)


def test_no_kid_with_a_single_key_is_accepted(entra: FakeEntra, clock: Clock) -> None:
    token = entra.id_token(header={"alg": "RS256"})
    assert validator(entra, clock).validate_sign_in(token, NONCE)


def test_no_kid_with_several_keys_tries_each_in_order(entra: FakeEntra, clock: Clock) -> None:
    entra.keys = list(_KEY_POOL)
    token = entra.id_token(key=_KEY_POOL[1], header={"alg": "RS256"})
    validated = validator(entra, clock).validate_sign_in(token, NONCE)
    assert validated.signing_key.kid == _KEY_POOL[1].x5t


def test_no_kid_signed_by_no_published_key_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    entra.keys = list(_KEY_POOL[:2])
    token = entra.id_token(key=_KEY_POOL[2], header={"alg": "RS256"})
    with pytest.raises(TokenRejected, match="signature"):
        validator(entra, clock).validate_sign_in(token, NONCE)


@pytest.mark.parametrize("header_name", ["jku", "x5u", "jwk"])
def test_key_location_headers_are_ignored(entra: FakeEntra, clock: Clock, header_name: str) -> None:
    """An attacker's own key, advertised in the header, is never used or fetched."""
    attacker = _KEY_POOL[2]
    values = {
        "jku": "https://attacker.example/keys",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": RSAKey.import_key(attacker.private_key.public_key()).as_dict(private=False),
    }
    header = {"alg": "RS256", "kid": entra.keys[0].x5t, header_name: values[header_name]}
    forged = entra.id_token(key=attacker, header=header)
    with pytest.raises(TokenRejected, match="signature"):
        validator(entra, clock).validate_sign_in(forged, NONCE)
    assert all("attacker" not in call.request.url for call in entra.rsps.calls)


def test_genuine_token_with_a_jku_header_is_verified_with_the_jwks_key(
    entra: FakeEntra, clock: Clock
) -> None:
    header = {"alg": "RS256", "kid": entra.keys[0].x5t, "jku": "https://attacker.example/keys"}
    assert validator(entra, clock).validate_sign_in(entra.id_token(header=header), NONCE)
    assert all("attacker" not in call.request.url for call in entra.rsps.calls)


def test_unknown_kid_refetches_once_and_accepts_a_rotated_key(entra: FakeEntra, clock: Clock) -> None:
    check = validator(entra, clock)
    check.validate_sign_in(entra.id_token(), NONCE)
    entra.keys = [_KEY_POOL[0], _KEY_POOL[1]]  # the provider rotates
    clock.advance(3600)
    assert check.validate_sign_in(entra.id_token(key=_KEY_POOL[1]), NONCE)
    assert len(entra.calls_to(entra.jwks_url)) == 2


def test_id_tokens_with_unknown_kids_refetch_within_the_trusted_budget(entra: FakeEntra, clock: Clock) -> None:
    """ID tokens come from the token endpoint, so a new kid may refetch (a rotation), but a
    provider sending many unknown kids costs at most DEFAULT_TRUSTED_REFETCHES per minute."""
    check = validator(entra, clock)
    check.validate_sign_in(entra.id_token(), NONCE)
    clock.advance(120)
    for number in range(100):
        forged = entra.id_token(header={"alg": "RS256", "kid": f"forged-{number}"})
        with pytest.raises(TokenRejected):
            check.validate_sign_in(forged, NONCE)
    assert len(entra.calls_to(entra.jwks_url)) == 1 + DEFAULT_TRUSTED_REFETCHES
    with pytest.raises(TokenRejected):  # the same unknown kid again: no refetch in the window
        check.validate_sign_in(entra.id_token(header={"alg": "RS256", "kid": "forged-0"}), NONCE)
    clock.advance(61)
    with pytest.raises(TokenRejected):
        check.validate_sign_in(entra.id_token(header={"alg": "RS256", "kid": "again"}), NONCE)
    assert len(entra.calls_to(entra.jwks_url)) == 2 + DEFAULT_TRUSTED_REFETCHES


def test_cached_keys_survive_a_jwks_outage_but_unknown_kid_fails_closed(
    entra: FakeEntra, clock: Clock
) -> None:
    check = validator(entra, clock)
    check.validate_sign_in(entra.id_token(), NONCE)
    entra.rsps.replace("GET", entra.jwks_url, status=503)
    clock.advance(25 * 3600)  # past the TTL: the refetch fails, the cached key still works
    assert check.validate_sign_in(entra.id_token(iat=int(clock()), exp=int(clock()) + 60), NONCE)
    with pytest.raises(ProviderUnavailable):
        check.validate_sign_in(entra.id_token(key=_KEY_POOL[1]), NONCE)


def test_malformed_token_is_rejected(entra: FakeEntra, clock: Clock) -> None:
    for garbage in ["not-a-jwt", "a.b", "ä.b.c", ""]:
        with pytest.raises(TokenRejected):
            validator(entra, clock).validate_sign_in(garbage, NONCE)


def test_weak_and_foreign_keys_in_the_jwks_are_skipped(entra: FakeEntra, clock: Clock) -> None:
    from hub.oidc import parse_jwks

    keys = parse_jwks(
        {
            "keys": [
                {"kty": "EC", "crv": "P-256", "x": "x", "y": "y"},
                {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
                {"kty": "RSA", "n": "!!", "e": "AQAB"},
                _KEY_POOL[0].public_jwk("i", "c"),
            ]
        },
        "https://example.test/keys",
    )
    assert [key.kid for key in keys] == [_KEY_POOL[0].x5t]


# --- discovery ------------------------------------------------------------------------------


def test_discovery_is_cached_for_its_ttl(entra: FakeEntra, clock: Clock) -> None:
    cache = discovery(entra, clock, ttl=3600)
    for _ in range(5):
        assert cache.get().token_endpoint == entra.token_url
    assert len(entra.calls_to(entra.discovery_url)) == 1
    clock.advance(3601)
    cache.get()
    assert len(entra.calls_to(entra.discovery_url)) == 2


def test_discovery_issuer_mismatch_is_refused(entra: FakeEntra, clock: Clock) -> None:
    entra.discovery_issuer = "https://example.org/"
    with pytest.raises(ProviderMisconfigured) as caught:
        discovery(entra, clock).get()
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
    entra: FakeEntra, clock: Clock, status: int, body: str, error: type[HubError]
) -> None:
    entra.rsps.replace("GET", entra.discovery_url, status=status, body=body)
    with pytest.raises(error):
        discovery(entra, clock).get()


def test_discovery_keeps_the_old_document_when_a_refetch_fails(entra: FakeEntra, clock: Clock) -> None:
    cache = discovery(entra, clock, ttl=60)
    first = cache.get()
    entra.rsps.replace("GET", entra.discovery_url, body=requests.ConnectTimeout())
    clock.advance(61)
    assert cache.get() == first


# --- token endpoint -------------------------------------------------------------------------


def test_client_secret_basic_puts_the_secret_only_in_the_header(entra: FakeEntra) -> None:
    response = token_client(entra).exchange_code(CODE, REDIRECT_URI, VERIFIER, ["openid"])
    assert response.refresh_token == NEW_REFRESH_TOKEN
    request = entra.calls_to(entra.token_url)[0].request
    expected = base64.b64encode(f"{CLIENT_ID}:{quote_plus(SECRET)}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    body = request.body if isinstance(request.body, str) else request.body.decode()
    assert "client_secret" not in body and SECRET not in body
    assert "grant_type=authorization_code" in body
    assert f"code_verifier={VERIFIER}" in body


def test_client_secret_post_puts_the_secret_in_the_body(entra: FakeEntra) -> None:
    token_client(entra, ClientSecretPost(CLIENT_ID, SECRET)).refresh(REFRESH_TOKEN)
    request = entra.calls_to(entra.token_url)[0].request
    assert "Authorization" not in request.headers
    assert "client_secret=Zx8Q" in request.body
    assert "grant_type=refresh_token" in request.body


def test_private_key_jwt_sends_an_rs256_assertion_with_x5t_s256(entra: FakeEntra, clock: Clock) -> None:
    certified = _KEY_POOL[1]
    auth = PrivateKeyJwt.from_pem(
        CLIENT_ID, certified.private_key_pem(), certified.certificate_pem(), clock=clock
    )
    token_client(entra, auth).exchange_code(CODE, REDIRECT_URI, VERIFIER)
    request = entra.calls_to(entra.token_url)[0].request
    form = dict(item.split("=", 1) for item in request.body.split("&"))
    assert form["client_assertion_type"].endswith("jwt-bearer")
    assertion = jwt.decode(form["client_assertion"], RSAKey.import_key(certified.private_key.public_key()))
    assert assertion.header == {"typ": "JWT", "alg": "RS256", "x5t#S256": certified.x5t_s256}
    assert assertion.claims["aud"] == entra.token_url
    assert assertion.claims["iss"] == assertion.claims["sub"] == CLIENT_ID
    assert assertion.claims["exp"] - assertion.claims["iat"] == 600
    assert "Authorization" not in request.headers


def test_private_key_jwt_refuses_a_certificate_of_another_key() -> None:
    with pytest.raises(ValueError, match="does not belong"):
        PrivateKeyJwt.from_pem(CLIENT_ID, _KEY_POOL[0].private_key_pem(), _KEY_POOL[1].certificate_pem())
    assert isinstance(_KEY_POOL[0].certificate, x509.Certificate)


def _oauth_error(error: str, code: int = 70008, description: str | None = None) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": description or f"AADSTS{code}: Something happened.\r\nTrace ID: t",
        "error_codes": [code],
    }


def test_invalid_grant_on_code_exchange_is_token_rejected(entra: FakeEntra) -> None:
    entra.token_status, entra.token_body = 400, _oauth_error("invalid_grant", 54005)
    with pytest.raises(TokenRejected, match="Something happened"):
        token_client(entra).exchange_code(CODE, REDIRECT_URI, VERIFIER)


def test_invalid_grant_on_refresh_is_refresh_rejected(entra: FakeEntra) -> None:
    entra.token_status, entra.token_body = 400, _oauth_error("invalid_grant", 700082)
    with pytest.raises(RefreshRejected):
        token_client(entra).refresh(REFRESH_TOKEN)


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_client_says_the_secret_is_wrong_or_expired(entra: FakeEntra, status: int) -> None:
    entra.token_status, entra.token_body = status, _oauth_error("invalid_client", 7000215)
    with pytest.raises(ProviderMisconfigured, match="wrong or expired"):
        token_client(entra).exchange_code(CODE, REDIRECT_URI, VERIFIER)


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
def test_token_endpoint_outages_are_provider_unavailable(entra: FakeEntra, answer: dict[str, Any]) -> None:
    entra.rsps.replace("POST", entra.token_url, **answer)
    with pytest.raises(ProviderUnavailable):
        token_client(entra).exchange_code(CODE, REDIRECT_URI, VERIFIER)


def test_consent_required_at_the_token_endpoint(entra: FakeEntra) -> None:
    entra.token_status, entra.token_body = 400, _oauth_error("consent_required", 65001)
    with pytest.raises(TokenRejected, match="consent"):
        token_client(entra).exchange_code(CODE, REDIRECT_URI, VERIFIER)
    with pytest.raises(RefreshRejected):
        token_client(entra).refresh(REFRESH_TOKEN)


def test_error_description_is_redacted_and_secrets_never_leak(entra: FakeEntra) -> None:
    """Even a provider that echoes what it got cannot put a secret into a message."""
    client = token_client(entra)
    cases = [
        (lambda: client.exchange_code(CODE, REDIRECT_URI, VERIFIER), (CODE, VERIFIER, SECRET)),
        (lambda: client.refresh(REFRESH_TOKEN), (REFRESH_TOKEN, SECRET)),
    ]
    for call, secrets in cases:
        echoed = "AADSTS70000: got " + " and ".join(secrets)
        entra.token_status, entra.token_body = 400, _oauth_error("invalid_grant", 70000, echoed)
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
            PrivateKeyJwt.from_pem(CLIENT_ID, _KEY_POOL[0].private_key_pem(), _KEY_POOL[0].certificate_pem())
        ),
    ]
    for text in texts:
        for secret in ("at-secret-value", REFRESH_TOKEN, "id-secret-value", SECRET, "PRIVATE"):
            assert secret not in text


def test_retry_after_within_bounds_is_retried_once(entra: FakeEntra) -> None:
    entra.rsps.replace("POST", entra.token_url, status=503, headers={"Retry-After": "1"}, body="{}")
    entra.rsps.add("POST", entra.token_url, json=entra.token_response())
    # responses serves registrations for one URL in order: first the 503, then the success
    assert token_client(entra).exchange_code(CODE, REDIRECT_URI, VERIFIER).access_token
    assert len(entra.calls_to(entra.token_url)) == 2
