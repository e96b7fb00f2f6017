"""Client authentication at the token endpoint (RFC 6749 2.3, RFC 7523 `private_key_jwt`).

Authlib's client-authentication framework does the work: each method here is an Authlib
auth method (a callable `(client, method, uri, headers, body)`) applied by
`OAuth2ClientAuth` to the outgoing request. Two parts are ours, and why:

- `client_secret_basic` form-urlencodes the id and secret before Base64 (RFC 6749 2.3.1);
  Authlib's encoder does not, so a secret with `:` `+` or `%` (Entra generates such
  secrets) would reach a strict server mangled.
- `private_key_jwt` uses Authlib's `PrivateKeyJWT` (RFC 7523 over joserfc) but signs with the
  hub's clock, a 10-minute lifetime, `nbf`, and the certificate's `x5t#S256` header that
  Entra needs to pick the key.

Every method also sends `client_id` in the body once, as the hub always has.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from authlib.common.urls import add_params_to_qs
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.auth import encode_client_secret_post
from authlib.oauth2.rfc7523 import PrivateKeyJWT as AuthlibPrivateKeyJWT
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from joserfc.jwk import RSAKey

from hub.upstream.protocol.common import Clock, b64url

ASSERTION_LIFETIME = 600
"""Seconds a client assertion (private_key_jwt) stays valid; MSAL uses the same."""
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

AuthlibMethod = Callable[[Any, str, str, dict[str, str], str], tuple[str, dict[str, str], str]]
"""Authlib's shape of a client authentication method."""


class ClientAuth:
    """How the hub proves it is the registered client at the token endpoint."""

    client_id: str
    method: str

    def authlib_method(self) -> AuthlibMethod:
        """The Authlib auth method that signs a token-endpoint request. A subclass written
        against hub_api_version 1 implements only `apply`; it is adapted here."""
        if type(self).apply is ClientAuth.apply:
            raise NotImplementedError(f"{type(self).__name__} must implement authlib_method or apply")

        def via_apply(client: Any, http_method: str, uri: str, headers: dict[str, str], body: str) -> tuple[str, dict[str, str], str]:
            form = {"client_id": self.client_id, **dict(parse_qsl(body or "", keep_blank_values=True))}
            self.apply(form, headers, uri)
            return uri, headers, urlencode(form)

        return via_apply

    def authlib_secret(self) -> Any:
        """What Authlib hands the method as `client.client_secret`."""
        return None

    def requests_auth(self) -> OAuth2ClientAuth:
        """A `requests` auth object (Authlib's `OAuth2ClientAuth`) for this method."""
        return OAuth2ClientAuth(self.client_id, self.authlib_secret(), auth_method=self.authlib_method())

    def apply(self, form: dict[str, str], headers: dict[str, str], token_endpoint: str) -> None:
        """Add this method's credentials to a form and headers about to be POSTed (for
        plugins that build their own requests)."""
        auth = OAuth2ClientAuth(self.client_id, self.authlib_secret())
        _uri, new_headers, body = self.authlib_method()(auth, "POST", token_endpoint, dict(headers), urlencode(form))
        headers.update(new_headers)
        form.clear()
        form.update(parse_qsl(body, keep_blank_values=True))

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in messages (for redaction)."""
        return ()


def _with_client_id(method: AuthlibMethod) -> AuthlibMethod:
    """Send `client_id` in the body exactly once, whatever the method adds."""

    def wrapped(client: Any, http_method: str, uri: str, headers: dict[str, str], body: str) -> tuple[str, dict[str, str], str]:
        uri, headers, body = method(client, http_method, uri, headers, body)
        if "client_id" not in dict(parse_qsl(body or "", keep_blank_values=True)):
            body = add_params_to_qs(body or "", [("client_id", client.client_id)])
        return uri, headers, body

    return wrapped


def _form_encoded_basic(client: Any, method: str, uri: str, headers: dict[str, str], body: str) -> tuple[str, dict[str, str], str]:
    pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
    headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return uri, headers, body


@dataclass(frozen=True)
class ClientSecretBasic(ClientAuth):
    """client_secret_basic: id and secret in the Authorization header, form-urlencoded first
    (RFC 6749 2.3.1), never in the body."""

    client_id: str
    client_secret: str = field(repr=False)
    method: str = "client_secret_basic"

    def authlib_method(self) -> AuthlibMethod:
        return _with_client_id(_form_encoded_basic)

    def authlib_secret(self) -> Any:
        return self.client_secret

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret,)


@dataclass(frozen=True)
class ClientSecretPost(ClientAuth):
    """client_secret_post: id and secret in the form body (Authlib's encoder)."""

    client_id: str
    client_secret: str = field(repr=False)
    method: str = "client_secret_post"

    def authlib_method(self) -> AuthlibMethod:
        return encode_client_secret_post

    def authlib_secret(self) -> Any:
        return self.client_secret

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret,)


class _HubPrivateKeyJWT(AuthlibPrivateKeyJWT):
    """Authlib's RFC 7523 method with the hub's claims and `x5t#S256` header."""

    def __init__(self, owner: PrivateKeyJwt) -> None:
        super().__init__()
        self.owner = owner

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return self.owner.assertion(token_endpoint)


@dataclass(frozen=True)
class PrivateKeyJwt(ClientAuth):
    """private_key_jwt: a short-lived assertion signed with the certificate's private key,
    naming the certificate by its SHA-256 thumbprint (`x5t#S256`)."""

    client_id: str
    private_key: RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)
    clock: Clock = field(default=time.time, repr=False)
    method: str = "private_key_jwt"

    @classmethod
    def from_pem(
        cls,
        client_id: str,
        private_key_pem: bytes,
        certificate_pem: bytes,
        *,
        password: bytes | None = None,
        clock: Clock = time.time,
    ) -> PrivateKeyJwt:
        """Load the PEM key and certificate; ValueError says which one is unreadable."""
        try:
            key = serialization.load_pem_private_key(private_key_pem, password=password)
        except (ValueError, TypeError) as exc:
            raise ValueError("the private key is not a readable PEM private key") from exc
        if not isinstance(key, RSAPrivateKey):
            raise ValueError("the private key is not an RSA key")
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
        except ValueError as exc:
            raise ValueError("the certificate is not a readable PEM certificate") from exc
        if certificate.public_key().public_numbers() != key.public_key().public_numbers():
            raise ValueError("the certificate does not belong to the private key")
        return cls(client_id, key, certificate, clock)

    @property
    def thumbprint_sha256(self) -> str:
        return b64url(self.certificate.fingerprint(hashes.SHA256()))

    def assertion(self, token_endpoint: str) -> str:
        """A fresh client assertion for this token endpoint (RFC 7523 3), signed by Authlib."""
        now = int(self.clock())
        return private_key_jwt_sign(
            RSAKey.import_key(self.private_key),
            self.client_id,
            token_endpoint,
            alg="RS256",
            claims={"jti": str(uuid.uuid4()), "nbf": now},
            header={"typ": "JWT", "x5t#S256": self.thumbprint_sha256},
            issued_at=now,
            expires_at=now + ASSERTION_LIFETIME,
        )

    def authlib_method(self) -> AuthlibMethod:
        return _with_client_id(_HubPrivateKeyJWT(self))


def secret_client_auth(client_id: str, client_secret: str, method: str) -> ClientAuth:
    """`client_secret_basic` (the default) or `client_secret_post`."""
    if method == "client_secret_post":
        return ClientSecretPost(client_id, client_secret)
    return ClientSecretBasic(client_id, client_secret)
