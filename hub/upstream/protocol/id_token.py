"""ID token validation (OpenID Connect Core 1.0, 3.1.3.7) with joserfc.

Each rule has its own message and audit reason, so a person (and support) can tell a wrong
clock from a forged token. The issuer rule is a callable: a plain provider returns its
discovery issuer, Entra multi-tenant fills the `{tenantid}` template from `tid`.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry

from hub.core.errors import TokenRejected
from hub.upstream.protocol.common import DEFAULT_CLOCK_SKEW, Clock, is_number
from hub.upstream.protocol.keys import JwksCache, SigningKey

ALLOWED_ALGORITHMS = ("RS256",)
"""ID tokens are accepted only with these algorithms: never `none`, never HS* (a token MACed
with the client secret proves nothing about who issued it)."""


class _IdTokenRegistry(JWSRegistry):
    max_header_length = 4096
    """Room for a (never used) `jwk` header, so such a token fails on its signature."""


RS256_REGISTRY = _IdTokenRegistry(algorithms=list(ALLOWED_ALGORITHMS), strict_check_header=False)
"""Non-strict so that providers' extra header fields (Entra's `x5t`) do not break
verification; `jku`, `x5u` and `jwk` are never used to find a key."""

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
        header, claims, signing_key = self.verify_signature(id_token, trusted=True)
        self._check_claims(claims)
        return ValidatedIdToken(header, claims, signing_key)

    def verify_signature(
        self, id_token: str, *, trusted: bool = False
    ) -> tuple[Mapping[str, Any], Mapping[str, Any], SigningKey]:
        """The header and claims of a JWT whose RS256 signature a provider key verifies.
        `trusted` only for tokens the hub fetched from the token endpoint itself: they may
        refetch the key set for a new kid (see hub.upstream.protocol.keys)."""
        try:
            compact = jws.extract_compact(id_token.encode("ascii"), registry=RS256_REGISTRY)
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
        candidates = self.jwks.candidates(kid, trusted=trusted)
        if not candidates:
            raise TokenRejected(
                "The ID token is signed with a key the provider does not publish.",
                code="unknown_signing_key",
            )
        for candidate in candidates:
            try:
                if jws.validate_compact(compact, candidate.key, registry=RS256_REGISTRY):
                    return header, _claims_of(compact.payload), candidate
            except JoseError as exc:
                raise TokenRejected("The ID token's header is not acceptable.") from exc
        raise TokenRejected("The ID token's signature is not valid.", code="bad_signature")

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenRejected("The ID token has no subject (sub).", code="missing_claim")
        if not is_number(claims.get("iat")):
            raise TokenRejected("The ID token has no issue time (iat).", code="missing_claim")
        if not is_number(claims.get("exp")):
            raise TokenRejected("The ID token has no expiry (exp).", code="missing_claim")
        issuer = claims.get("iss")
        expected = self.expected_issuer(claims)
        if issuer != expected:
            raise TokenRejected(
                f"The ID token was issued by {issuer!r}, not by {expected!r}.",
                code="issuer_mismatch",
            )
        self.check_audience(claims)
        self.check_times(claims)

    def check_audience(self, claims: Mapping[str, Any]) -> None:
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

    def check_times(self, claims: Mapping[str, Any]) -> None:
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
        if nbf is not None and (not is_number(nbf) or nbf - skew > now):
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

