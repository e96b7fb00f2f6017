"""An OpenID provider mocked at the HTTP layer with `responses`, for the core's protocol toolkit
tests (hub.oidc): discovery, JWKS, a token endpoint whose answer a test sets, ID tokens signed
with any key and header, and the calls each URL received. No provider plugin involved."""

# ruff: noqa: S105 - every credential in this module is a fake for tests

from __future__ import annotations

import base64
import json
from typing import Any

import responses
from joserfc import jwt

from hub.http import ProviderSession
from hub.plugin.testing.keys import CertifiedKey
from hub.provider import ProviderContext

HOST = "https://idp.example.test"
ISSUER = f"{HOST}/tenant-a"
CLIENT_ID = "toolkit-test-client"
SECRET = "Zx8Q~unit-test-secret-value"
REDIRECT_URI = "http://127.0.0.1:5001/callback"
NONCE = "n-5fH2-unit-test-nonce"
CODE = "unit-test-authorization-code"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-unit-test"
ACCESS_TOKEN = "opaque-access-token-unit-test"
REFRESH_TOKEN = "unit-test-refresh-token"
NEW_REFRESH_TOKEN = "unit-test-rotated-refresh-token"
NOW = 1_767_225_600.0

KEY_POOL = [CertifiedKey.generate() for _ in range(3)]
"""Generated once per test session: key generation is the slow part of these tests."""


class Clock:
    """A clock tests can move."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeIssuer:
    """Discovery, keys and the token endpoint of one issuer, answered through `responses`."""

    def __init__(self, rsps: responses.RequestsMock, clock: Clock, issuer: str = ISSUER) -> None:
        self.rsps = rsps
        self.clock = clock
        self.issuer = issuer
        self.keys = [KEY_POOL[0]]
        self.discovery_issuer = issuer
        self.token_status = 200
        self.token_body: dict[str, Any] | None = None
        rsps.add_callback(responses.GET, self.discovery_url, callback=self._discovery)
        rsps.add_callback(responses.GET, self.jwks_url, callback=self._jwks)
        rsps.add_callback(responses.POST, self.token_url, callback=self._token)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/keys"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    def calls_to(self, url: str) -> list[Any]:
        return [call for call in self.rsps.calls if call.request.url.split("?")[0] == url]

    def _discovery(self, request: Any) -> tuple[int, dict[str, str], str]:
        document = {
            "issuer": self.discovery_issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
        }
        return 200, {}, json.dumps(document)

    def _jwks(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps({"keys": [key.public_jwk() for key in self.keys]})

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = self.token_body if self.token_body is not None else self.token_response()
        return self.token_status, {}, json.dumps(body)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """An ID token's claims; an override of None leaves the claim out."""
        now = int(self.clock())
        claims = {
            "aud": CLIENT_ID,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3900,
            "name": "Ada Example",
            "nonce": NONCE,
            "preferred_username": "ada@example.test",
            "sid": "00a1b2c3-d4e5-f607-1829-3a4b5c6d7e8f",
            "sub": "Jk3vV0sD9pQ-1yR7cT2uB8wX5zA4nM6eL0hG3iF9oK1",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(self, *, key: CertifiedKey | None = None, header: dict[str, Any] | None = None, **overrides: Any) -> str:
        key = key or self.keys[-1]
        token_header = {"alg": "RS256", "kid": key.x5t} if header is None else header
        return jwt.encode(token_header, self.claims(**overrides), key.jose_key)

    def token_response(self, id_token: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {
            "token_type": "Bearer",
            "scope": "openid profile",
            "expires_in": 3599,
            "access_token": ACCESS_TOKEN,
            "refresh_token": NEW_REFRESH_TOKEN,
            "id_token": id_token or self.id_token(),
        }
        body.update(extra)
        return {name: value for name, value in body.items() if value is not None}


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)])


def make_context() -> ProviderContext:
    """A provider context whose HTTP session never sleeps between retries."""
    return ProviderContext(redirect_uri=REDIRECT_URI, http=ProviderSession(sleep=lambda _seconds: None))
