"""How applications authenticate to the token, revocation and introspection endpoints: the
methods the hub accepts, and `private_key_jwt` (RFC 7523 §2.2) with the application's own keys."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.core.errors import HubError
from hub.issuer import tokens
from hub.issuer.config import IssuerConfig
from hub.issuer.context import db

if TYPE_CHECKING:
    from hub.issuer.models import OAuthClient

PRIVATE_KEY_JWT = "private_key_jwt"
AUTH_METHODS = ["client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT, "none"]
"""At the token and revocation endpoints; each application is held to its registered method."""
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT]
"""Where a public application (`none`) has no business: client credentials, introspection."""
JWKS_CACHE_SECONDS = 300.0


class PrivateKeyJWT(JWTBearerClientAssertion):
    """`private_key_jwt` (RFC 7523 §2.2): the application signs an assertion with its own key,
    published inline (`jwks`) or at its `jwks_uri`, fetched with `config.http` and cached."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, config: IssuerConfig, audiences: list[str]) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.config = config
        self.audiences = audiences
        self._jwks_cache: dict[str, tuple[float, KeySet]] = {}

    def get_audiences(self) -> list[str]:
        return self.audiences

    def validate_jti(self, claims_: Any, jti: str) -> bool:
        expires = datetime.fromtimestamp(int(claims_.get("exp", time.time())) + 60, tz=UTC)
        return tokens.remember_assertion(db(), f"{claims_['sub']}|{jti}", expires)

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        if client.row.jwks:
            return KeySet.import_key_set(client.row.jwks)
        if client.row.jwks_uri:
            return self._fetch_jwks(client.row.jwks_uri)
        raise InvalidClientError(description="The application has no public keys registered.")

    def _fetch_jwks(self, uri: str) -> KeySet:
        """The application's JWKS from its jwks_uri, cached for JWKS_CACHE_SECONDS."""
        cached = self._jwks_cache.get(uri)
        if cached is not None and time.monotonic() - cached[0] < JWKS_CACHE_SECONDS:
            return cached[1]
        try:
            response = self.config.http.get(uri)
            key_set = KeySet.import_key_set(response.json()) if response.ok else None
        except (HubError, requests.RequestException, ValueError, JoseError):
            key_set = None
        if key_set is None:
            raise InvalidClientError(description="The application's jwks_uri could not be read.")
        self._jwks_cache[uri] = (time.monotonic(), key_set)
        return key_set
