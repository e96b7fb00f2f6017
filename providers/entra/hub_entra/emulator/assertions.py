"""Verifies client assertions (the certificate credential, private_key_jwt) like Entra does.

The assertion names its certificate by `x5t#S256` (SHA-256, with RS256 or PS256) or `x5t`
(SHA-1, the older form); both are accepted, as Entra accepts both today.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from hub_entra.emulator.directory import Client

if TYPE_CHECKING:
    from hub_entra.emulator.server import ClientCredential, EntraEmulator

_ASSERTION_REGISTRY = JWSRegistry(algorithms=["RS256", "PS256"], strict_check_header=False)
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SKEW = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def verify_client_assertion(
    emulator: EntraEmulator, client: Client, credential: ClientCredential, used_ids: set[str]
) -> None:
    """Raise TokenEndpointError unless the assertion is signed by a registered certificate
    and names this client and this token endpoint."""
    from hub_entra.emulator.server import TokenEndpointError

    def fail(code: int, message: str) -> TokenEndpointError:
        return TokenEndpointError("invalid_client", code, message, status=401)

    assert credential.assertion is not None
    try:
        compact = jws.extract_compact(credential.assertion.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise fail(50027, "JWT token is invalid or malformed.") from exc
    certificate = _registered_certificate(client, compact.headers())
    if certificate is None:
        raise fail(
            700027,
            "Client assertion failed signature validation. [Reason - The key was not found.]",
        )
    key = RSAKey.import_key(certificate.public_key())
    try:
        valid = jws.validate_compact(compact, key, registry=_ASSERTION_REGISTRY)
    except JoseError:
        valid = False
    if not valid:
        raise fail(700027, "Client assertion contains an invalid signature.")
    claims = json.loads(compact.payload or b"{}")
    _check_claims(emulator, client, credential, claims, used_ids, fail)


def _registered_certificate(client: Client, header: dict[str, Any]) -> x509.Certificate | None:
    for pem in client.certificates_pem:
        certificate = x509.load_pem_x509_certificate(pem)
        if header.get("x5t#S256") == _b64url(certificate.fingerprint(hashes.SHA256())):
            return certificate
        sha1 = _b64url(certificate.fingerprint(hashes.SHA1()))  # noqa: S303 - a thumbprint
        if header.get("x5t") == sha1:
            return certificate
    return None


def _check_claims(
    emulator: EntraEmulator,
    client: Client,
    credential: ClientCredential,
    claims: dict[str, Any],
    used_ids: set[str],
    fail: Any,
) -> None:
    now = emulator.clock()
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise fail(50048, "Subject mismatches Issuer claim in the client assertion.")
    if claims.get("aud") != credential.token_endpoint:
        raise fail(
            50012,
            f"The audience claim must be the token endpoint {credential.token_endpoint}.",
        )
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or exp + SKEW < now or nbf - SKEW > now:
        raise fail(700024, "Client assertion is not within its valid time range.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or jti in used_ids:
        raise fail(700021, "The client assertion's jti is missing or was already used.")
    used_ids.add(jti)
