"""Signing-key rotation never fails a sign-in, and forged tokens cannot make the hub hammer the
provider's key set (issue 9, section 6; hub.oidc.keys).

ID tokens come from the token endpoint (trusted): a new kid may refetch the keys, within a
budget. Logout tokens can be POSTed by anyone (untrusted): one refetch per kid and per
cooldown at most. The two budgets are separate.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from joserfc import jws
from joserfc.jwk import RSAKey

from hub.errors import TokenRejected
from hub.http import ProviderSession
from hub.oidc import BACKCHANNEL_LOGOUT_EVENT, IdTokenValidator, JwksCache, LogoutTokenValidator
from hub.oidc.keys import DEFAULT_JWKS_COOLDOWN, DEFAULT_TRUSTED_REFETCHES

ISSUER = "https://op.rotation.test"
JWKS_URL = f"{ISSUER}/jwks"
CLIENT_ID = "hub"
NONCE = "rotation-nonce"
_OLD = RSAKey.generate_key(2048, parameters={"kid": "old"})
_NEW = RSAKey.generate_key(2048, parameters={"kid": "new"})
_STRANGER = RSAKey.generate_key(2048)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Provider:
    """A provider's key set (mocked with `responses`) and what it signs."""

    def __init__(self, rsps: responses.RequestsMock, clock: Clock) -> None:
        self.published = [_OLD]
        self.clock = clock
        self.fetches = 0
        rsps.add_callback(responses.GET, JWKS_URL, callback=self._jwks)
        jwks = JwksCache(ProviderSession(sleep=lambda _s: None), lambda: JWKS_URL, clock=clock)
        self.id_tokens = IdTokenValidator(jwks, CLIENT_ID, lambda _claims: ISSUER, clock=clock)
        self.logout_tokens = LogoutTokenValidator(self.id_tokens)

    def _jwks(self, _request: Any) -> tuple[int, dict[str, str], str]:
        self.fetches += 1
        return 200, {}, json.dumps({"keys": [key.as_dict(private=False) for key in self.published]})

    def _sign(self, claims: dict[str, Any], key: RSAKey, kid: str, typ: str | None = None) -> str:
        now = int(self.clock())
        header = {"alg": "RS256", "kid": kid, **({"typ": typ} if typ else {})}
        body = {"iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 300, **claims}
        return jws.serialize_compact(header, json.dumps(body).encode(), key)

    def id_token(self, key: RSAKey = _OLD, kid: str | None = None) -> str:
        return self._sign({"sub": "alice", "nonce": NONCE}, key, kid or str(key.kid))

    def forged_logout_token(self, kid: str) -> str:
        claims = {"sub": "alice", "jti": secrets.token_hex(8), "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}
        return self._sign(claims, _STRANGER, kid, typ="logout+jwt")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock) -> Iterator[Provider]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        provider = Provider(rsps, clock)
        provider.id_tokens.validate_sign_in(provider.id_token(), NONCE)  # keys cached
        assert provider.fetches == 1
        yield provider


def test_a_rotation_right_after_a_forged_logout_token_with_an_unknown_kid_still_signs_in(provider: Provider, clock: Clock) -> None:
    with pytest.raises(TokenRejected):
        provider.logout_tokens.validate(provider.forged_logout_token("unknown"))
    clock.now += 10
    provider.published = [_OLD, _NEW]  # the provider rotates seconds later
    assert provider.id_tokens.validate_sign_in(provider.id_token(_NEW), NONCE).claims["sub"] == "alice"
    assert provider.fetches == 3


def test_a_rotation_right_after_an_id_token_with_an_unknown_kid_still_signs_in(provider: Provider, clock: Clock) -> None:
    """The red team's finding: one unknown kid used to block every refetch for 60 s, so a real
    rotation in that minute failed every sign-in with 400."""
    with pytest.raises(TokenRejected):
        provider.id_tokens.validate_sign_in(provider.id_token(_STRANGER, kid="typo"), NONCE)
    clock.now += 5
    provider.published = [_NEW]
    assert provider.id_tokens.validate_sign_in(provider.id_token(_NEW), NONCE)
    assert provider.fetches == 3


def test_a_flood_of_forged_logout_tokens_with_random_kids_costs_one_fetch_per_cooldown(provider: Provider, clock: Clock) -> None:
    for _ in range(500):
        with pytest.raises(TokenRejected):
            provider.logout_tokens.validate(provider.forged_logout_token(secrets.token_hex(6)))
    assert provider.fetches == 2
    clock.now += DEFAULT_JWKS_COOLDOWN + 1
    for _ in range(100):
        with pytest.raises(TokenRejected):
            provider.logout_tokens.validate(provider.forged_logout_token(secrets.token_hex(6)))
    assert provider.fetches == 3


def test_sign_ins_pick_up_a_rotation_in_the_middle_of_a_logout_token_flood(provider: Provider, clock: Clock) -> None:
    for _ in range(50):
        with pytest.raises(TokenRejected):
            provider.logout_tokens.validate(provider.forged_logout_token(secrets.token_hex(6)))
    provider.published = [_NEW]
    assert provider.id_tokens.validate_sign_in(provider.id_token(_NEW), NONCE)
    for _ in range(50):
        with pytest.raises(TokenRejected):
            provider.logout_tokens.validate(provider.forged_logout_token(secrets.token_hex(6)))
    assert provider.fetches == 3


def test_the_same_unknown_kid_from_the_token_endpoint_refetches_once_per_window(provider: Provider, clock: Clock) -> None:
    for _ in range(20):
        with pytest.raises(TokenRejected):
            provider.id_tokens.validate_sign_in(provider.id_token(_STRANGER, kid="never-published"), NONCE)
    assert provider.fetches == 2
    assert DEFAULT_TRUSTED_REFETCHES > 1
