"""Test helpers for the Entra provider: Entra mocked with `responses`, and emulator drivers.

Imported only by tests (it needs the dev dependency `responses`); the hub core's tests may
use FakeEntra too. Values here are fakes, never real credentials.
"""

# ruff: noqa: S105 - every value in this module is a fake for tests

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from joserfc import jwt

from hub.http import ProviderSession
from hub.oidc import is_guid
from hub.provider import AuthorizationRequest, Callback, ProviderContext
from hub_entra import EntraProvider
from hub_entra.emulator import CertifiedKey, EntraEmulator

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
CLIENT_ID = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"
SECRET = "Zx8Q~unit-test-secret-value"
HOST = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com"
REDIRECT_URI = "http://127.0.0.1:5001/callback"
OID = "0f9e8d7c-6b5a-4938-a271-605f4e3d2c1b"
NONCE = "n-5fH2-unit-test-nonce"
CODE = "1.AXoA-unit-test-authorization-code"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-unit-test"
ACCESS_TOKEN = "opaque-access-token-unit-test"
REFRESH_TOKEN = "1.AXoA-unit-test-refresh-token"
NEW_REFRESH_TOKEN = "1.AXoA-unit-test-rotated-refresh-token"
NOW = 1_767_225_600.0

_KEY_POOL = [CertifiedKey.generate() for _ in range(3)]
"""Generated once per test session: key generation is the slow part of these tests."""


class Clock:
    """A clock tests can move."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeEntra:
    """Entra and Graph mocked at the HTTP layer: discovery, keys, token endpoint, `/me`."""

    def __init__(
        self, rsps: responses.RequestsMock, clock: Clock, tenant: str = TENANT, host: str = HOST
    ) -> None:
        self.rsps = rsps
        self.clock = clock
        self.tenant = tenant
        self.host = host
        self.graph = GRAPH
        self.keys = [_KEY_POOL[0]]
        self.discovery_issuer = f"{host}/{tenant}/v2.0"
        self.token_status = 200
        self.token_body: dict[str, Any] | None = None
        self.graph_status = 200
        self.graph_body: dict[str, Any] = {
            "id": OID,
            "displayName": "Ada Example",
            "mail": "ada@contoso.example",
            "userPrincipalName": "ada@contoso.example",
            "givenName": "Ada",
            "surname": "Example",
            "jobTitle": None,
        }
        self.key_issuer = f"{host}/{{tenantid}}/v2.0"
        self.install()

    # --- URLs ---------------------------------------------------------------------------------

    @property
    def authority(self) -> str:
        return f"{self.host}/{self.tenant}"

    @property
    def discovery_url(self) -> str:
        return f"{self.authority}/v2.0/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.authority}/discovery/v2.0/keys"

    @property
    def token_url(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def me_url(self) -> str:
        return f"{self.graph}/v1.0/me"

    def install(self) -> None:
        self.rsps.add_callback(responses.GET, self.discovery_url, callback=self._discovery)
        self.rsps.add_callback(responses.GET, self.jwks_url, callback=self._jwks)
        self.rsps.add_callback(responses.POST, self.token_url, callback=self._token)
        self.rsps.add_callback(responses.GET, self.me_url, callback=self._me)

    def calls_to(self, url: str) -> list[Any]:
        return [call for call in self.rsps.calls if call.request.url.split("?")[0] == url]

    # --- answers ------------------------------------------------------------------------------

    def _discovery(self, request: Any) -> tuple[int, dict[str, str], str]:
        document = {
            "issuer": self.discovery_issuer,
            "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
            "end_session_endpoint": f"{self.authority}/oauth2/v2.0/logout",
        }
        return 200, {}, json.dumps(document)

    def _jwks(self, request: Any) -> tuple[int, dict[str, str], str]:
        keys = [key.public_jwk(self.key_issuer, "microsoftonline.com") for key in self.keys]
        return 200, {}, json.dumps({"keys": keys})

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = self.token_body if self.token_body is not None else self.token_response()
        return self.token_status, {}, json.dumps(body)

    def _me(self, request: Any) -> tuple[int, dict[str, str], str]:
        return self.graph_status, {}, json.dumps(self.graph_body)

    # --- tokens -------------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(self.clock())
        tid = overrides.pop("tid", self.tenant if is_guid(self.tenant) else TENANT)
        claims = {
            "aud": CLIENT_ID,
            "iss": f"{self.host}/{tid}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3900,
            "name": "Ada Example",
            "nonce": NONCE,
            "oid": OID,
            "preferred_username": "ada@contoso.example",
            "sid": "00a1b2c3-d4e5-f607-1829-3a4b5c6d7e8f",
            "sub": "Jk3vV0sD9pQ-1yR7cT2uB8wX5zA4nM6eL0hG3iF9oK1",
            "tid": tid,
            "uti": "pQ7rS2tU9vW0xY1zA3bC4d",
            "ver": "2.0",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(
        self,
        *,
        key: CertifiedKey | None = None,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        key = key or self.keys[-1]
        token_header = {"alg": "RS256", "kid": key.x5t} if header is None else header
        return jwt.encode(token_header, self.claims(**overrides), key.jose_key)

    def token_response(self, id_token: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {
            "token_type": "Bearer",
            "scope": "openid profile https://graph.microsoft.com/User.Read",
            "expires_in": 3599,
            "ext_expires_in": 3599,
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


def no_sleep(seconds: float) -> None:
    return None


def make_context(**session_options: Any) -> ProviderContext:
    session_options.setdefault("sleep", no_sleep)
    return ProviderContext(redirect_uri=REDIRECT_URI, http=ProviderSession(**session_options))


def entra_settings(**overrides: Any) -> dict[str, Any]:
    settings = {
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "role_map": {"Hub.Admin": "admin"},
    }
    settings.update(overrides)
    return {name: value for name, value in settings.items() if value is not None}


def callback(**params: str) -> Callback:
    params = params or {"code": CODE, "state": "s7Qw1"}
    return Callback(params=params, code_verifier=VERIFIER, nonce=NONCE)


# --- the emulator ---------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(
    provider: EntraProvider, browser: requests.Session | None = None
) -> tuple[dict[str, str], str, str]:
    """Drive the authorize redirect (auto_sign_in must be set); returns (callback params,
    verifier, nonce)."""
    verifier, challenge = pkce()
    nonce = secrets.token_urlsafe(16)
    url = provider.authorization_url(AuthorizationRequest(secrets.token_urlsafe(16), nonce, challenge))
    response = (browser or requests).get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"]), verifier, nonce


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def sign_in(provider: EntraProvider) -> Any:
    params, verifier, nonce = authorize_params(provider)
    return provider.complete_sign_in(Callback(params, verifier, nonce))


def emulator_provider(emulator: EntraEmulator, **overrides: Any) -> EntraProvider:
    settings = emulator.provider_settings(overrides.pop("tenant", None))
    settings.update(overrides)
    settings = {name: value for name, value in settings.items() if value is not None}
    return EntraProvider("entra", "Microsoft", settings, make_context())
