"""OpenID Connect relying-party toolkit for plugins: discovery, keys, ID tokens, token endpoint.

Entra and the generic OIDC plugin both build on these pieces so that the rules an ID token
must pass live in one place and are tested once. Nothing here knows a provider by name;
provider quirks (Entra's `{tenantid}` issuer template, AADSTS codes) come in through small
callables. Every outbound call goes through the caller's `requests.Session` (the hub's
ProviderSession), and time comes from an injectable `clock` so tests can move it.

Never put a token, code, verifier, assertion or secret in an exception message, a log line or
a repr: the classes below hide them with `repr=False` and the error paths redact them.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from hub.errors import (
    ConfigError,
    HubError,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    TokenRejected,
)
from hub.provider import HealthCheck, Identity, Tokens

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Returns the current Unix time in seconds; `time.time` outside tests."""

DEFAULT_CLOCK_SKEW = 120
"""Seconds of clock difference tolerated on `exp`, `nbf` and `iat`."""
DEFAULT_DISCOVERY_TTL = 24 * 3600
"""Entra serves discovery with `Cache-Control: max-age=86400`."""
DEFAULT_JWKS_TTL = 24 * 3600
"""Microsoft suggests refreshing signing keys about once a day."""
DEFAULT_JWKS_COOLDOWN = 60.0
"""An unknown `kid` refetches the key set at most once per this many seconds, so a flood of
forged tokens cannot turn the hub into an amplifier against the provider."""
ASSERTION_LIFETIME = 600
"""Seconds a client assertion (private_key_jwt) stays valid; MSAL uses the same."""
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

ALLOWED_ALGORITHMS = ("RS256",)
"""ID tokens are accepted only with these algorithms: never `none`, never HS* (a token MACed
with the client secret proves nothing about who issued it)."""


class _IdTokenRegistry(JWSRegistry):
    max_header_length = 4096
    """Room for a (never used) `jwk` header, so such a token fails on its signature."""


_RS256 = _IdTokenRegistry(algorithms=list(ALLOWED_ALGORITHMS), strict_check_header=False)
"""Non-strict so that providers' extra header fields (Entra's `x5t`) do not break
verification; `jku`, `x5u` and `jwk` are never used to find a key."""


# --- small helpers ----------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value in text by `[redacted]`: a defence in depth for text that
    comes from the provider and ends up in an error message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def add_query(url: str, params: Mapping[str, str]) -> str:
    """Append params to url's query string, keeping any query it already has (Entra's
    `?appid=` metadata variant, for example)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def read_json(response: requests.Response, what: str) -> Any:
    """The JSON body of a provider answer, or ProviderUnavailable when it is an HTML error
    page or malformed (what a proxy or an outage returns)."""
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderUnavailable(
            f"The {what} at {_host(response.url)} answered HTTP {response.status_code} with a "
            "body that is not JSON (an outage page or a proxy in between?)."
        ) from exc


def _host(url: str | None) -> str:
    return urlsplit(url or "").netloc or "the identity provider"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- discovery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of an OpenID configuration document the hub uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, document: Mapping[str, Any], url: str) -> ProviderMetadata:
        missing = [
            name
            for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(name), str) or not document.get(name)
        ]
        if missing:
            raise ProviderUnavailable(f"The OpenID configuration at {url} lacks {', '.join(missing)}.")
        end_session = document.get("end_session_endpoint")
        return cls(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            end_session_endpoint=end_session if isinstance(end_session, str) else None,
            raw=dict(document),
        )


def exact_issuer(expected: str) -> Callable[[str], bool]:
    """The usual issuer rule (OIDC Discovery 4.3): the document's issuer equals the
    configured one, character for character."""
    return lambda issuer: issuer == expected


class DiscoveryCache:
    """Fetches an OpenID configuration document once per TTL and refuses one whose `issuer`
    is not the expected one (a mix-up or a misconfigured authority)."""

    def __init__(
        self,
        http: requests.Session,
        url: str,
        *,
        accept_issuer: Callable[[str], bool],
        expected_issuer_text: str,
        ttl: float = DEFAULT_DISCOVERY_TTL,
        clock: Clock = time.time,
    ) -> None:
        """`accept_issuer` decides whether the document's issuer is acceptable (Entra needs a
        template rule for `common`); `expected_issuer_text` says in error messages what was
        expected."""
        self.http = http
        self.url = url
        self.accept_issuer = accept_issuer
        self.expected_issuer_text = expected_issuer_text
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0

    def get(self) -> ProviderMetadata:
        """The cached document, refetched after the TTL. When a refetch fails, a document
        fetched earlier is kept so that a provider blip does not stop sign-ins."""
        with self._lock:
            now = self.clock()
            if self._metadata is not None and now - self._fetched_at < self.ttl:
                return self._metadata
            try:
                self._metadata = self.download()
            except ProviderUnavailable:
                if self._metadata is None:
                    raise
                log.warning("Refetching %s failed; using the copy from earlier.", self.url)
            self._fetched_at = now
            return self._metadata

    def invalidate(self) -> None:
        with self._lock:
            self._fetched_at = 0.0

    def cached(self) -> ProviderMetadata | None:
        """The document fetched earlier (however old), or None; never does network I/O, so
        paths that must not wait on the provider (local sign-out) can still use it."""
        with self._lock:
            return self._metadata

    def download(self) -> ProviderMetadata:
        """Fetch and check the document now, bypassing the cache (health checks)."""
        response = self.http.get(self.url, headers={"Accept": "application/json"})
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(
                f"The OpenID configuration at {self.url} answered HTTP {response.status_code}."
            )
        if response.status_code != 200:
            raise ProviderMisconfigured(
                f"The OpenID configuration at {self.url} answered HTTP {response.status_code}; "
                "check the provider's authority and tenant settings.",
                hint="An administrator must check the provider's settings.",
            )
        document = read_json(response, "OpenID configuration")
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"The OpenID configuration at {self.url} is not an object.")
        metadata = ProviderMetadata.from_document(document, self.url)
        if not self.accept_issuer(metadata.issuer):
            raise ProviderMisconfigured(
                f"The OpenID configuration at {self.url} names the issuer {metadata.issuer!r}, "
                f"but {self.expected_issuer_text} was expected. The hub refuses it so that "
                "tokens from another issuer can never be accepted.",
                code="issuer_mismatch",
                hint="An administrator must check the provider's authority settings.",
            )
        return metadata


# --- signing keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """One key from the provider's JWKS, with the JWK members (Entra's per-key `issuer`)."""

    kid: str | None
    key: RSAKey = field(repr=False)
    params: Mapping[str, Any] = field(repr=False)


def parse_jwks(document: Any, url: str) -> list[SigningKey]:
    """The RSA signature keys of a JWKS document; other keys and weak keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProviderUnavailable(f"The key set at {url} is not a JWKS document.")
    keys = []
    for member in document["keys"]:
        if not isinstance(member, dict) or member.get("kty") != "RSA":
            continue
        if member.get("use", "sig") != "sig":
            continue
        public_members = {k: member[k] for k in ("kty", "n", "e") if k in member}
        try:
            key = RSAKey.import_key(public_members)
        except (JoseError, ValueError, TypeError):
            log.warning("Skipping a malformed key in %s.", url)
            continue
        if key.raw_value.key_size < 2048:
            continue
        keys.append(SigningKey(member.get("kid"), key, dict(member)))
    return keys


class JwksCache:
    """The provider's signing keys, cached with a TTL; an unknown `kid` triggers at most one
    refetch per cooldown, however many tokens carry unknown kids."""

    def __init__(
        self,
        http: requests.Session,
        jwks_uri: Callable[[], str],
        *,
        ttl: float = DEFAULT_JWKS_TTL,
        refetch_cooldown: float = DEFAULT_JWKS_COOLDOWN,
        clock: Clock = time.time,
    ) -> None:
        """`jwks_uri` is a callable so the address always comes from the current discovery
        document (it may change between runs)."""
        self.http = http
        self.jwks_uri = jwks_uri
        self.ttl = ttl
        self.refetch_cooldown = refetch_cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: list[SigningKey] | None = None
        self._fetched_at = 0.0
        self._last_unknown_kid_refetch: float | None = None
        """Only refetches caused by unknown kids count towards the cooldown, so a key rotated
        just after a routine fetch is still picked up at once."""
        self._last_refresh_failed = False
        self.fetch_count = 0
        """How many times the key set was downloaded; the admin page and tests read it."""

    def keys(self) -> list[SigningKey]:
        """The current keys, downloading them when none are cached or the TTL ran out."""
        with self._lock:
            now = self.clock()
            if self._keys is None or now - self._fetched_at >= self.ttl:
                self._refresh(now, keep_stale=True)
            assert self._keys is not None
            return list(self._keys)

    def candidates(self, kid: str | None) -> list[SigningKey]:
        """Keys that may have signed a token with this `kid` header. A kid not in the cache
        causes one refetch, unless one happened within the cooldown."""
        keys = self.keys()
        matching = _matching_keys(keys, kid)
        if matching or kid is None:
            return matching
        with self._lock:
            now = self.clock()
            last = self._last_unknown_kid_refetch
            if last is not None and now - last < self.refetch_cooldown:
                matching = _matching_keys(self._keys or [], kid)
                if not matching and self._last_refresh_failed:
                    raise ProviderUnavailable(
                        "The provider's signing keys could not be refreshed, so a token signed "
                        "with a new key cannot be checked yet."
                    )
                return matching
            self._last_unknown_kid_refetch = now
            self._refresh(now, keep_stale=False)
            return _matching_keys(self._keys or [], kid)

    def _refresh(self, now: float, *, keep_stale: bool) -> None:
        try:
            self._keys = self.download()
            self._fetched_at = now
            self._last_refresh_failed = False
        except ProviderUnavailable:
            self._last_refresh_failed = True
            if keep_stale and self._keys is not None:
                log.warning("Refetching signing keys failed; using the cached keys.")
                self._fetched_at = now - self.ttl + self.refetch_cooldown
                return
            raise

    def download(self) -> list[SigningKey]:
        """Fetch the key set now, bypassing the cache (health checks use it too)."""
        url = self.jwks_uri()
        self.fetch_count += 1
        response = self.http.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise ProviderUnavailable(
                f"The signing keys at {url} could not be fetched (HTTP {response.status_code})."
            )
        return parse_jwks(read_json(response, "key set"), url)


def _matching_keys(keys: list[SigningKey], kid: str | None) -> list[SigningKey]:
    """With a kid: the keys with that kid. Without one: every key, tried in JWKS order (the
    conformance suite accepts trying each candidate; the result is deterministic)."""
    if kid is None:
        return list(keys)
    return [key for key in keys if key.kid == kid]


# --- ID token validation ----------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatedIdToken:
    """An ID token whose signature and claims passed every check."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_key: SigningKey = field(repr=False)


class IdTokenValidator:
    """Checks an ID token: RS256 signature with a key from the provider's JWKS, then `iss`,
    `aud`, `azp`, `exp`, `nbf`, `iat`, `sub` and `nonce`, each with its own message."""

    def __init__(
        self,
        jwks: JwksCache,
        client_id: str,
        expected_issuer: Callable[[Mapping[str, Any]], str],
        *,
        skew_seconds: float = DEFAULT_CLOCK_SKEW,
        clock: Clock = time.time,
    ) -> None:
        """`expected_issuer` gets the (signature-checked) claims and returns the issuer they
        must carry; a plain provider returns its discovery issuer, Entra multi-tenant fills the
        `{tenantid}` template from `tid`. It may raise TokenRejected itself."""
        self.jwks = jwks
        self.client_id = client_id
        self.expected_issuer = expected_issuer
        self.skew_seconds = skew_seconds
        self.clock = clock

    def validate_sign_in(self, id_token: str, nonce: str) -> ValidatedIdToken:
        """An ID token from a code exchange: every rule, and the nonce the hub sent."""
        validated = self._validate(id_token)
        token_nonce = validated.claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
            raise TokenRejected(
                "The ID token's nonce does not match this sign-in, so it may be replayed.",
                code="nonce_mismatch",
            )
        return validated

    def validate_refreshed(self, id_token: str) -> ValidatedIdToken:
        """An ID token from a refresh: every rule except the nonce, which a refresh does not
        carry (OIDC Core 12.2); the caller compares the subject with the stored one."""
        return self._validate(id_token)

    def _validate(self, id_token: str) -> ValidatedIdToken:
        header, claims, signing_key = self._verify_signature(id_token)
        self._check_claims(claims)
        return ValidatedIdToken(header, claims, signing_key)

    def _verify_signature(self, id_token: str) -> tuple[Mapping[str, Any], Mapping[str, Any], SigningKey]:
        try:
            compact = jws.extract_compact(id_token.encode("ascii"), registry=_RS256)
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenRejected("The ID token is not a well-formed signed JWT.") from exc
        header = compact.headers()
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise TokenRejected(
                f"The ID token is signed with {alg!r}; only {', '.join(ALLOWED_ALGORITHMS)} is accepted.",
                code="token_algorithm",
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("The ID token's key id (kid) is not a string.")
        candidates = self.jwks.candidates(kid)
        if not candidates:
            raise TokenRejected(
                "The ID token is signed with a key the provider does not publish.",
                code="unknown_signing_key",
            )
        for candidate in candidates:
            try:
                if jws.validate_compact(compact, candidate.key, registry=_RS256):
                    return header, _claims_of(compact.payload), candidate
            except JoseError as exc:
                raise TokenRejected("The ID token's header is not acceptable.") from exc
        raise TokenRejected("The ID token's signature is not valid.", code="bad_signature")

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenRejected("The ID token has no subject (sub).", code="missing_claim")
        if not _is_number(claims.get("iat")):
            raise TokenRejected("The ID token has no issue time (iat).", code="missing_claim")
        if not _is_number(claims.get("exp")):
            raise TokenRejected("The ID token has no expiry (exp).", code="missing_claim")
        issuer = claims.get("iss")
        expected = self.expected_issuer(claims)
        if issuer != expected:
            raise TokenRejected(
                f"The ID token was issued by {issuer!r}, not by {expected!r}.",
                code="issuer_mismatch",
            )
        self._check_audience(claims)
        self._check_times(claims)

    def _check_audience(self, claims: Mapping[str, Any]) -> None:
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or not audiences:
            raise TokenRejected("The ID token has no audience (aud).", code="audience_mismatch")
        if any(value != self.client_id for value in audiences):
            raise TokenRejected(
                "The ID token was issued for another application (aud is not this hub's client id).",
                code="audience_mismatch",
            )
        azp = claims.get("azp")
        if azp is not None and azp != self.client_id:
            raise TokenRejected(
                "The ID token names another authorized party (azp).", code="audience_mismatch"
            )

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock()
        skew = self.skew_seconds
        if claims["exp"] + skew < now:
            raise TokenRejected(
                f"The ID token expired {int(now - claims['exp'])} s ago (tolerance {int(skew)} s). "
                "If this repeats, check the hub's clock.",
                code="token_expired",
            )
        if claims["iat"] - skew > now:
            raise TokenRejected(
                f"The ID token was issued {int(claims['iat'] - now)} s in the future (tolerance "
                f"{int(skew)} s). Check the hub's clock.",
                code="token_not_yet_valid",
            )
        nbf = claims.get("nbf")
        if nbf is not None and (not _is_number(nbf) or nbf - skew > now):
            raise TokenRejected(
                "The ID token is not valid yet (nbf). Check the hub's clock.",
                code="token_not_yet_valid",
            )


def _claims_of(payload: bytes | None) -> Mapping[str, Any]:
    try:
        claims = json.loads(payload or b"")
    except ValueError as exc:
        raise TokenRejected("The ID token's claims are not JSON.") from exc
    if not isinstance(claims, dict):
        raise TokenRejected("The ID token's claims are not a JSON object.")
    return claims


# --- client authentication --------------------------------------------------------------------


class ClientAuth:
    """How the hub proves it is the registered client at the token endpoint."""

    client_id: str
    method: str

    def apply(self, form: dict[str, str], headers: dict[str, str], token_endpoint: str) -> None:
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in messages (for redaction)."""
        return ()


@dataclass(frozen=True)
class ClientSecretBasic(ClientAuth):
    """client_secret_basic: id and secret in the Authorization header, form-urlencoded first
    (RFC 6749 2.3.1), never in the body."""

    client_id: str
    client_secret: str = field(repr=False)
    method: str = "client_secret_basic"

    def apply(self, form: dict[str, str], headers: dict[str, str], token_endpoint: str) -> None:
        pair = f"{_form_encode(self.client_id)}:{_form_encode(self.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret,)


@dataclass(frozen=True)
class ClientSecretPost(ClientAuth):
    """client_secret_post: id and secret in the form body."""

    client_id: str
    client_secret: str = field(repr=False)
    method: str = "client_secret_post"

    def apply(self, form: dict[str, str], headers: dict[str, str], token_endpoint: str) -> None:
        form["client_id"] = self.client_id
        form["client_secret"] = self.client_secret

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret,)


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
        now = int(self.clock())
        claims = {
            "aud": token_endpoint,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        header = {"alg": "RS256", "typ": "JWT", "x5t#S256": self.thumbprint_sha256}
        return jwt.encode(header, claims, RSAKey.import_key(self.private_key), registry=_RS256)

    def apply(self, form: dict[str, str], headers: dict[str, str], token_endpoint: str) -> None:
        form["client_id"] = self.client_id
        form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        form["client_assertion"] = self.assertion(token_endpoint)


def _form_encode(value: str) -> str:
    return quote_plus(value)


# --- token endpoint ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenResponse:
    """A successful token endpoint answer; repr shows no token."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - a token type name, not a secret
    expires_in: int | None = None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def to_tokens(self, now: float) -> Tokens:
        """The hub's Tokens value, with an absolute expiry computed from `now`."""
        expires_at = (
            datetime.fromtimestamp(now, UTC) + timedelta(seconds=self.expires_in)
            if self.expires_in is not None
            else None
        )
        return Tokens(
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            id_token=self.id_token,
            expires_at=expires_at,
            scopes=tuple((self.scope or "").split()),
        )


@dataclass(frozen=True)
class OAuthErrorBody:
    """An OAuth error answer (RFC 6749 5.2) with the HTTP status it came with."""

    status: int
    error: str
    description: str = ""
    codes: tuple[int, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


ProviderCodeFinder = Callable[[OAuthErrorBody], str | None]
"""Finds a provider-specific code (Entra: `AADSTS70008`) to show people and support."""


def no_provider_code(error: OAuthErrorBody) -> str | None:
    return None


class TokenClient:
    """Redeems authorization codes and refresh tokens at one token endpoint and turns OAuth
    errors into hub errors a person can act on."""

    def __init__(
        self,
        http: requests.Session,
        token_endpoint: Callable[[], str],
        client_auth: ClientAuth,
        *,
        provider_code: ProviderCodeFinder = no_provider_code,
        provider_label: str = "The identity provider",
        error_aliases: Mapping[str, str] | None = None,
    ) -> None:
        """`error_aliases` maps a provider's own error names to the RFC 6749 ones they mean
        (GitHub: `bad_verification_code` -> `invalid_grant`), so every provider's errors land
        on the same hub errors."""
        self.http = http
        self.token_endpoint = token_endpoint
        self.client_auth = client_auth
        self.provider_code = provider_code
        self.provider_label = provider_label
        self.error_aliases = dict(error_aliases or {})

    def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str, scopes: Iterable[str] = ()
    ) -> TokenResponse:
        """authorization_code grant with the PKCE verifier; `invalid_grant` means this
        sign-in's code is unusable (TokenRejected)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        _add_scope(form, scopes)
        return self._request(form, (code, code_verifier), TokenRejected)

    def refresh(self, refresh_token: str, scopes: Iterable[str] = ()) -> TokenResponse:
        """refresh_token grant; `invalid_grant` means the person must sign in again
        (RefreshRejected)."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        _add_scope(form, scopes)
        return self._request(form, (refresh_token,), RefreshRejected)

    def _request(
        self,
        form: dict[str, str],
        grant_secrets: tuple[str, ...],
        on_invalid_grant: type[HubError],
    ) -> TokenResponse:
        endpoint = self.token_endpoint()
        form["client_id"] = self.client_auth.client_id
        headers = {"Accept": "application/json"}
        self.client_auth.apply(form, headers, endpoint)
        response = self.http.post(endpoint, data=form, headers=headers)
        secrets = (*grant_secrets, *self.client_auth.secrets(), form.get("client_assertion"))
        if response.status_code == 200 and parse_oauth_error(response) is None:
            return self._parse_success(response)
        # Some providers (GitHub) answer errors with HTTP 200: any `error` key is a failure.
        raise self._error_for(response, secrets, on_invalid_grant)

    def _parse_success(self, response: requests.Response) -> TokenResponse:
        body = read_json(response, "token endpoint")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ProviderUnavailable(
                f"{self.provider_label}'s token endpoint answered without an access token."
            )
        if "error" in body:
            raise ProviderUnavailable(
                f"{self.provider_label}'s token endpoint answered HTTP 200 with an error."
            )
        expires_in = body.get("expires_in")
        return TokenResponse(
            access_token=body["access_token"],
            token_type=str(body.get("token_type", "Bearer")),
            expires_in=_seconds(expires_in),
            refresh_token=_str_or_none(body.get("refresh_token")),
            id_token=_str_or_none(body.get("id_token")),
            scope=_str_or_none(body.get("scope")),
            raw=body,
        )

    def _error_for(
        self,
        response: requests.Response,
        secrets: Iterable[str | None],
        on_invalid_grant: type[HubError],
    ) -> HubError:
        label = self.provider_label
        if response.status_code >= 500 or response.status_code == 429:
            retry = response.headers.get("Retry-After")
            wait = f" It asked to wait {retry} s." if retry else ""
            return ProviderUnavailable(
                f"{label}'s token endpoint answered HTTP {response.status_code}.{wait}"
            )
        error = parse_oauth_error(response)
        if error is None:
            return ProviderUnavailable(
                f"{label}'s token endpoint answered HTTP {response.status_code} without an OAuth error."
            )
        if error.error in self.error_aliases:
            error = dataclasses.replace(error, error=self.error_aliases[error.error])
        provider_code = self.provider_code(error)
        detail = redact(_first_line(error.description), secrets)
        suffix = f" ({detail})" if detail else ""
        if error.error == "invalid_client":
            return ProviderMisconfigured(
                f"{label} rejected the hub's client credentials: the client secret or "
                f"certificate is wrong or expired.{suffix}",
                provider_code=provider_code,
            )
        if error.error == "invalid_grant":
            return on_invalid_grant(
                f"{label} refused the grant ({error.error}).{suffix}",
                provider_code=provider_code,
            )
        if error.error in {"temporarily_unavailable", "server_error"}:
            return ProviderUnavailable(
                f"{label} is temporarily unavailable.{suffix}", provider_code=provider_code
            )
        if error.error in {"interaction_required", "consent_required"} and (
            on_invalid_grant is RefreshRejected
        ):
            return RefreshRejected(
                f"{label} needs the person to sign in again ({error.error}).{suffix}",
                provider_code=provider_code,
            )
        if error.error in {"interaction_required", "consent_required"}:
            return TokenRejected(
                f"{label} needs more from the person or an administrator ({error.error}), for "
                f"example admin consent or multi-factor sign-in.{suffix}",
                provider_code=provider_code,
            )
        return ProviderMisconfigured(
            f"{label}'s token endpoint refused the request ({error.error}).{suffix}",
            provider_code=provider_code,
        )


def parse_oauth_error(response: requests.Response) -> OAuthErrorBody | None:
    """The OAuth error in a response body, or None when there is none (HTML, empty)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    codes = body.get("error_codes")
    return OAuthErrorBody(
        status=response.status_code,
        error=body["error"],
        description=str(body.get("error_description") or ""),
        codes=tuple(c for c in codes if isinstance(c, int)) if isinstance(codes, list) else (),
        raw=body,
    )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


def _add_scope(form: dict[str, str], scopes: Iterable[str]) -> None:
    scope = " ".join(scopes)
    if scope:
        form["scope"] = scope


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: Any) -> int | None:
    """expires_in as an int; some providers send it as a string."""
    if _is_number(value) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None


# --- authorization request --------------------------------------------------------------------


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    nonce: str,
    code_challenge: str,
    prompt: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The authorization-code request URL: always `response_type=code`, PKCE S256, state and
    nonce, and the configured redirect URI."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if prompt:
        params["prompt"] = prompt
    params.update(extra or {})
    return add_query(endpoint, params)


# --- authorization response issuer (RFC 9207) -------------------------------------------------


def check_authorization_response_issuer(params: Mapping[str, str], metadata: ProviderMetadata) -> None:
    """Mix-up defence (RFC 9207 2.4): an `iss` on the callback must equal the issuer the
    request went to, and must be present when the provider advertises
    `authorization_response_iss_parameter_supported`. Call it before redeeming the code, so a
    code meant for another provider is never sent to this one's token endpoint."""
    sent = params.get("iss")
    if sent is None:
        if metadata.raw.get("authorization_response_iss_parameter_supported") is True:
            raise TokenRejected(
                "The sign-in answer carries no issuer (iss), although this provider always "
                "sends one; it may come from another provider (a mix-up attack).",
                code="issuer_mismatch",
            )
        return
    if sent != metadata.issuer:
        raise TokenRejected(
            f"The sign-in answer names the issuer {sent[:200]!r}, not {metadata.issuer!r}; it "
            "was meant for another provider and its code was not redeemed.",
            code="issuer_mismatch",
        )


# --- userinfo ---------------------------------------------------------------------------------


def fetch_userinfo(
    http: requests.Session, endpoint: str, access_token: str, *, provider_label: str = "The identity provider"
) -> Mapping[str, Any]:
    """The UserInfo claims (OIDC Core 5.3) for an access token, sent as a Bearer header (never
    in a query string). Only JSON answers are accepted; signed UserInfo is not supported."""
    response = http.get(
        endpoint, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    )
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(
            f"{provider_label}'s userinfo endpoint answered HTTP {response.status_code}."
        )
    if response.status_code in (401, 403):
        raise TokenRejected(
            f"{provider_label}'s userinfo endpoint refused the access token it just issued "
            f"(HTTP {response.status_code}).",
            code="userinfo_refused",
        )
    if response.status_code != 200:
        raise ProviderUnavailable(
            f"{provider_label}'s userinfo endpoint answered HTTP {response.status_code}."
        )
    claims = read_json(response, "userinfo endpoint")
    if not isinstance(claims, dict):
        raise ProviderUnavailable(f"{provider_label}'s userinfo answer is not a JSON object.")
    return claims


def check_userinfo_subject(userinfo: Mapping[str, Any], id_token_claims: Mapping[str, Any]) -> None:
    """OIDC Core 5.3.2: the UserInfo `sub` must equal the ID token's, or the answer is about
    someone else and must not be used (C10)."""
    if userinfo.get("sub") != id_token_claims.get("sub"):
        raise TokenRejected(
            "The provider's userinfo answer names a different person than the ID token (sub "
            "differs).",
            code="subject_mismatch",
        )


# --- back-channel logout tokens ---------------------------------------------------------------

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a JWT type name, not a secret


@dataclass(frozen=True)
class ValidatedLogoutToken:
    """A logout token that passed every check: it names a provider session (`sid`), a
    person (`sub`), or both."""

    sid: str | None
    sub: str | None
    claims: Mapping[str, Any] = field(repr=False)


class JtiCache:
    """Remembers logout token ids until they expire, so a replayed token is refused."""

    def __init__(self, clock: Clock = time.time, max_entries: int = 10_000) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_use(self, jti: str, expires_at: float) -> bool:
        """True the first time this id is seen before it expires; False on a replay."""
        with self._lock:
            now = self.clock()
            if len(self._seen) >= self.max_entries:
                self._seen = {key: exp for key, exp in self._seen.items() if exp > now}
            if jti in self._seen and self._seen[jti] > now:
                return False
            self._seen[jti] = expires_at
            return True


class LogoutTokenValidator:
    """Checks an OpenID Connect Back-Channel Logout 1.0 token (section 2.6): the same
    signature, issuer, audience and time rules as an ID token, then `typ` (when present)
    `logout+jwt`, the back-channel logout event, `sid` or `sub`, no `nonce`, and a `jti`
    seen only once."""

    def __init__(self, id_tokens: IdTokenValidator, jti_cache: JtiCache | None = None) -> None:
        """Reuses the provider's ID token validator, so keys, issuer and audience rules are
        the provider's own."""
        self.id_tokens = id_tokens
        self.jti_cache = jti_cache or JtiCache(id_tokens.clock)

    def validate(self, logout_token: str) -> ValidatedLogoutToken:
        header, claims, _key = self.id_tokens._verify_signature(logout_token)
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in {LOGOUT_TOKEN_TYPE, f"application/{LOGOUT_TOKEN_TYPE}"}:
            raise TokenRejected("The logout token's type (typ) is not logout+jwt.", code="logout_token_invalid")
        self._check_standard_claims(claims)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise TokenRejected("The logout token carries no back-channel logout event.", code="logout_token_invalid")
        if "nonce" in claims:
            raise TokenRejected("A logout token must not carry a nonce.", code="logout_token_invalid")
        sid, sub = claims.get("sid"), claims.get("sub")
        sid = sid if isinstance(sid, str) and sid else None
        sub = sub if isinstance(sub, str) and sub else None
        if sid is None and sub is None:
            raise TokenRejected("The logout token names neither a session (sid) nor a person (sub).", code="logout_token_invalid")
        self._check_replay(claims)
        return ValidatedLogoutToken(sid=sid, sub=sub, claims=claims)

    def _check_standard_claims(self, claims: Mapping[str, Any]) -> None:
        if not _is_number(claims.get("iat")) or not _is_number(claims.get("exp")):
            raise TokenRejected("The logout token lacks iat or exp.", code="logout_token_invalid")
        issuer, expected = claims.get("iss"), self.id_tokens.expected_issuer(claims)
        if issuer != expected:
            raise TokenRejected(
                f"The logout token was issued by {str(issuer)[:200]!r}, not by {expected!r}.",
                code="issuer_mismatch",
            )
        self.id_tokens._check_audience(claims)
        self.id_tokens._check_times(claims)

    def _check_replay(self, claims: Mapping[str, Any]) -> None:
        jti = claims.get("jti")
        if jti is None:
            return
        if not isinstance(jti, str) or not self.jti_cache.first_use(jti, float(claims["exp"]) + self.id_tokens.skew_seconds):
            raise TokenRejected("This logout token was already used.", code="logout_token_replayed")


# --- configuration helpers --------------------------------------------------------------------

GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and bool(GUID_PATTERN.match(value))


def base_url_setting(value: Any, key: str) -> str:
    """An https base URL without a trailing slash; http only for loopback hosts (the
    emulator), so a typo can never send secrets over plain text to a real host."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a URL such as https://login.microsoftonline.com.")
    parts = urlsplit(value.rstrip("/"))
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(
            f"{key} must be an https:// URL (http:// is allowed only for 127.0.0.1 or "
            f"localhost), got {value!r}."
        )
    if parts.query or parts.fragment or not parts.netloc:
        raise ConfigError(f"{key} must be a plain base URL without query or fragment.")
    return value.rstrip("/")


__all__ = [
    "ALLOWED_ALGORITHMS",
    "BACKCHANNEL_LOGOUT_EVENT",
    "JtiCache",
    "LogoutTokenValidator",
    "ValidatedLogoutToken",
    "check_authorization_response_issuer",
    "check_userinfo_subject",
    "fetch_userinfo",
    "CLIENT_ASSERTION_TYPE",
    "DEFAULT_CLOCK_SKEW",
    "ClientAuth",
    "ClientSecretBasic",
    "ClientSecretPost",
    "Clock",
    "DiscoveryCache",
    "IdTokenValidator",
    "JwksCache",
    "OAuthErrorBody",
    "PrivateKeyJwt",
    "ProviderMetadata",
    "SigningKey",
    "TokenClient",
    "TokenResponse",
    "ValidatedIdToken",
    "authorization_url",
    "b64url",
    "base_url_setting",
    "exact_issuer",
    "is_guid",
    "parse_jwks",
    "parse_oauth_error",
    "read_json",
    "redact",
]


# --- pieces every OpenID Connect provider type shares -------------------------------------------


def secret_client_auth(client_id: str, client_secret: str, method: str) -> ClientAuth:
    """`client_secret_basic` (the default) or `client_secret_post`."""
    if method == "client_secret_post":
        return ClientSecretPost(client_id, client_secret)
    return ClientSecretBasic(client_id, client_secret)


def check_same_person(refreshed: Identity, previous: Identity, provider_label: str) -> None:
    """A refreshed ID token must name the issuer, tenant and subject the account was linked
    with (OIDC Core 12.2); otherwise nothing of the answer may be stored."""
    if (refreshed.issuer, refreshed.tenant, refreshed.subject) != (previous.issuer, previous.tenant, previous.subject):
        raise TokenRejected(
            f"{provider_label}'s refreshed ID token names a different issuer, tenant or person "
            "than the stored account; the stored tokens were left unchanged.",
            code="subject_mismatch",
        )


def discovery_health(discovery: DiscoveryCache, jwks: JwksCache) -> list[HealthCheck]:
    """Live checks for the admin console: the OpenID configuration and the signing keys,
    fetched now (not from the caches)."""
    try:
        metadata = discovery.download()
    except HubError as exc:
        return [HealthCheck("OpenID configuration", False, exc.message)]
    checks = [HealthCheck("OpenID configuration", True, f"issuer {metadata.issuer}")]
    try:
        keys = jwks.download()
    except HubError as exc:
        return [*checks, HealthCheck("Signing keys", False, exc.message)]
    return [*checks, HealthCheck("Signing keys", bool(keys), f"{len(keys)} RSA signing key(s) at {metadata.jwks_uri}")]
