"""The authorization request (RFC 6749 4.1.1 with PKCE, RFC 7636) and its response's issuer
(RFC 9207).

The core runs `check_callback_issuer` on every callback before any provider sees the code, so
a code meant for one provider is never redeemed at another's token endpoint (a mix-up). A
provider says what its responses' `iss` may be through `ProviderType.authorization_response_issuer`;
the base classes in hub.upstream.protocol fill it from the provider's metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from hub.core.errors import TokenRejected
from hub.upstream.protocol.common import add_query
from hub.upstream.protocol.discovery import ProviderMetadata
from hub.upstream.provider import AuthorizationResponseIssuer, ProviderType

ISS_PARAMETER_SUPPORTED = "authorization_response_iss_parameter_supported"
"""The metadata member (RFC 9207 3) saying the provider always sends `iss`."""


def s256_code_challenge(code_verifier: str) -> str:
    """The PKCE S256 challenge for a verifier (RFC 7636 4.2), by Authlib."""
    return str(create_s256_code_challenge(code_verifier))


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    nonce: str | None,
    code_challenge: str,
    prompt: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The authorization-code request URL: always `response_type=code`, PKCE S256, state,
    the nonce (OpenID Connect; None for plain OAuth 2.0), and the configured redirect URI."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
    }
    if nonce is not None:
        params["nonce"] = nonce
    params["code_challenge"] = code_challenge
    params["code_challenge_method"] = "S256"
    if prompt:
        params["prompt"] = prompt
    params.update(extra or {})
    return add_query(endpoint, params)


def check_authorization_response_issuer(
    params: Mapping[str, str], metadata: ProviderMetadata | AuthorizationResponseIssuer
) -> None:
    """Mix-up defence (RFC 9207 2.4): an `iss` on the callback must be the issuer the request
    went to, and must be present when the provider advertises
    `authorization_response_iss_parameter_supported`. Call it before redeeming the code."""
    expected = (
        AuthorizationResponseIssuer(metadata.issuer, metadata.raw.get(ISS_PARAMETER_SUPPORTED) is True)
        if isinstance(metadata, ProviderMetadata)
        else metadata
    )
    sent = params.get("iss")
    if sent is None:
        if expected.required:
            raise TokenRejected(
                "The sign-in answer carries no issuer (iss), although this provider always "
                "sends one; it may come from another provider (a mix-up attack).",
                code="issuer_mismatch",
            )
        return
    if not expected.accepts(sent):
        raise TokenRejected(
            f"The sign-in answer names the issuer {sent[:200]!r}, not {expected.issuer!r}; it "
            "was meant for another provider and its code was not redeemed.",
            code="issuer_mismatch",
        )


def check_callback_issuer(provider: ProviderType, params: Mapping[str, str]) -> None:
    """The core's RFC 9207 check for any provider type: against what the provider declares,
    and nothing to check when it declares nothing (a provider without issuer identifiers)."""
    expected = provider.authorization_response_issuer()
    if expected is not None:
        check_authorization_response_issuer(params, expected)
