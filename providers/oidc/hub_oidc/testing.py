"""Test helpers for the oidc provider: an OpenID provider mocked with `responses`.

Imported only by tests (it needs the dev dependency `responses`). Values here are fakes.
"""

# ruff: noqa: S105 - every value in this module is a fake for tests

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import responses
from joserfc import jws
from joserfc.jwk import RSAKey

from hub.http import ProviderSession
from hub.oidc import BACKCHANNEL_LOGOUT_EVENT
from hub.provider import Callback, ProviderContext
from hub_oidc import OidcProvider

ISSUER = "https://op.example.test"
CLIENT_ID = "hub-client"
SECRET = "op-unit-test-client-secret"
REDIRECT_URI = "http://127.0.0.1:5001/auth/op/callback"
NONCE = "op-unit-test-nonce"
VERIFIER = "op-unit-test-verifier-0123456789-0123456789-0123456789"
CODE = "op-unit-test-code"
SUB = "248289761001"

_KEY = RSAKey.generate_key(2048, parameters={"kid": "op-key-1"})
_OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "op-key-1"})


class FakeOpenIdProvider:
    """Discovery, JWKS, token and userinfo endpoints at ISSUER, mocked in `rsps`. Change
    `document`, `token_body`, `token_status` or `userinfo_body` per test."""

    def __init__(self, rsps: responses.RequestsMock, issuer: str = ISSUER) -> None:
        self.rsps = rsps
        self.issuer = issuer
        self.document: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "end_session_endpoint": f"{issuer}/logout",
            "backchannel_logout_supported": True,
        }
        self.token_status = 200
        self.token_body: dict[str, Any] | None = None
        self.userinfo_body: dict[str, Any] = {"sub": SUB, "name": "Ada Lovelace", "email": "ada@example.test", "email_verified": True}
        self.token_requests: list[dict[str, list[str]]] = []
        rsps.add_callback(responses.GET, f"{issuer}/.well-known/openid-configuration", callback=lambda _r: (200, {}, json.dumps(self.document)))
        rsps.add_callback(responses.GET, f"{issuer}/jwks", callback=lambda _r: (200, {}, json.dumps({"keys": [_KEY.as_dict(private=False)]})))
        rsps.add_callback(responses.POST, f"{issuer}/token", callback=self._token)
        rsps.add_callback(responses.GET, f"{issuer}/userinfo", callback=lambda _r: (200, {}, json.dumps(self.userinfo_body)))

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.token_requests.append(parse_qs(request.body))
        body = self.token_body if self.token_body is not None else self.token_response()
        return self.token_status, {}, json.dumps(body)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": CLIENT_ID, "sub": SUB, "iat": now, "exp": now + 600,
                                  "nonce": NONCE, "sid": "op-session-1", "name": "Ada Lovelace",
                                  "email": "ada@example.test", "email_verified": True, "groups": ["hub-admins", "staff"]}  # fmt: skip
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None, other_key: bool = False) -> str:
        """Sign exactly this header (no `typ` unless given) and these claims."""
        protected = {"alg": "RS256", "kid": "op-key-1", **(header or {})}
        return jws.serialize_compact(protected, json.dumps(claims).encode(), _OTHER_KEY if other_key else _KEY)

    def id_token(self, **overrides: Any) -> str:
        return self.sign(self.claims(**overrides))

    def token_response(self, id_token: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"access_token": "op-access-" + secrets.token_hex(8), "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "op-refresh-" + secrets.token_hex(8), "id_token": id_token or self.id_token()}  # fmt: skip
        body.update(extra)
        return body

    def logout_claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": secrets.token_hex(8),
                                  "sub": SUB, "sid": "op-session-1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}  # fmt: skip
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def logout_token(self, header: dict[str, Any] | None = None, **overrides: Any) -> str:
        return self.sign(self.logout_claims(**overrides), header={"typ": "logout+jwt", **(header or {})})


def make_context(redirect_uri: str = REDIRECT_URI) -> ProviderContext:
    return ProviderContext(redirect_uri=redirect_uri, http=ProviderSession(sleep=lambda _s: None))


def oidc_settings(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"issuer": ISSUER, "client_id": CLIENT_ID, "client_secret": SECRET,
                                "role_claim": "groups", "role_map": {"hub-admins": "admin"}}  # fmt: skip
    settings.update(overrides)
    return {name: value for name, value in settings.items() if value is not None}


def make_provider(**overrides: Any) -> OidcProvider:
    return OidcProvider("op", "Example OP", oidc_settings(**overrides), make_context())


def callback(**params: str) -> Callback:
    return Callback(params=params or {"code": CODE, "state": "s1"}, code_verifier=VERIFIER, nonce=NONCE)
