"""`OpenIdConnectProvider`: the base class of an OpenID Connect provider type.

It owns the wiring discovery -> keys -> ID-token validator -> token client, the nonce in the
authorization request, ID-token validation at sign-in and refresh (the refreshed token must
name the same person, OIDC Core 12.2), back- and front-channel logout, the RFC 9207 issuer
rule from the metadata, revocation when advertised, and health checks. A subclass overrides
small hooks: the issuer policy, the identity mapping, the profile, error text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from hub.core.errors import HubError, SignInError, TokenRejected
from hub.upstream.protocol.authorization import ISS_PARAMETER_SUPPORTED
from hub.upstream.protocol.common import add_query
from hub.upstream.protocol.discovery import DiscoveryCache, ProviderMetadata
from hub.upstream.protocol.id_token import IdTokenValidator, ValidatedIdToken
from hub.upstream.protocol.keys import JwksCache
from hub.upstream.protocol.logout_token import LogoutTokenValidator
from hub.upstream.protocol.oauth2_provider import OAuth2Provider
from hub.upstream.protocol.token_endpoint import TokenResponse
from hub.upstream.provider import (
    AuthorizationRequest,
    AuthorizationResponseIssuer,
    Callback,
    HealthCheck,
    Identity,
    LogoutRequest,
    Profile,
    ProviderContext,
    SignInResult,
    authentication_claims,
)


class OpenIdConnectProvider(OAuth2Provider):
    """Base of an OpenID Connect provider type. Override `load_settings` and `issuer` (or
    `discovery_url`); the identity comes from the ID token's `iss` and `sub`."""

    def __init__(self, provider_id: str, name: str, settings: Mapping[str, Any], context: ProviderContext, **kwargs: Any) -> None:
        super().__init__(provider_id, name, settings, context, **kwargs)
        clock = self.clock
        self.discovery = DiscoveryCache(
            context.http,
            self.discovery_url,
            accept_issuer=self.accept_discovery_issuer,
            expected_issuer_text=self.expected_discovery_issuer_text,
            ttl=getattr(self.config, "discovery_ttl_seconds", 24 * 3600),
            clock=clock,
        )
        self.jwks = JwksCache(context.http, lambda: self.discovery.get().jwks_uri, clock=clock)
        self.validator = IdTokenValidator(
            self.jwks,
            self.client_id,
            self.expected_token_issuer,
            skew_seconds=getattr(self.config, "clock_skew_seconds", 120),
            clock=clock,
        )
        self.logout_tokens = LogoutTokenValidator(self.validator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, issuer={self.issuer!r})"

    # --- hooks: the issuer policy -----------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The configured issuer; by default discovery must name it exactly."""
        return str(self.config.issuer)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    def accept_discovery_issuer(self, issuer: str) -> bool:
        """Whether the discovery document's `issuer` is this provider's (Discovery 4.3)."""
        return issuer == self.issuer

    @property
    def expected_discovery_issuer_text(self) -> str:
        return repr(self.issuer)

    def expected_token_issuer(self, claims: Mapping[str, Any]) -> str:
        """The `iss` this (signature-checked) token must carry; may raise TokenRejected."""
        return self.discovery.get().issuer

    def serves_issuer(self, issuer: str) -> bool:
        """Whether an `iss` in a front-channel logout or authorization response is this
        provider's; never does network I/O."""
        return issuer == self.issuer

    # --- hooks: who signed in ---------------------------------------------------------------

    def claims(self, validated: ValidatedIdToken, access_token: str) -> Mapping[str, Any]:
        """The claims identity and profile are read from: the ID token's by default."""
        return validated.claims

    def identity(self, validated: ValidatedIdToken, claims: Mapping[str, Any]) -> Identity:
        """The ID token's `iss` and `sub`, its `sid`, and `roles_from(claims)`."""
        sid = validated.claims.get("sid")
        return Identity(
            subject=validated.claims["sub"],
            issuer=validated.claims["iss"],
            roles=self.roles_from(claims),
            session_id=sid if isinstance(sid, str) else None,
            **authentication_claims(validated.claims),
        )

    def roles_from(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """Hub roles the provider's claims grant; none by default."""
        return frozenset()

    def profile(self, identity: Identity, claims: Mapping[str, Any], access_token: str) -> Profile:
        """Display data; the standard claims by default (OIDC Core 5.1)."""
        return profile_from_claims(claims)

    # --- the OAuth2Provider hooks, filled from discovery ------------------------------------

    def authorization_endpoint(self) -> str:
        return self.discovery.get().authorization_endpoint

    def token_endpoint(self) -> str:
        return self.discovery.get().token_endpoint

    def revocation_endpoint(self) -> str | None:
        endpoint = self.discovery.get().raw.get("revocation_endpoint")
        return endpoint if isinstance(endpoint, str) and endpoint else None

    def nonce(self, request: AuthorizationRequest) -> str | None:
        return request.nonce

    def sign_in_result(self, response: TokenResponse, callback: Callback) -> SignInResult:
        """Validate the ID token (nonce included) before anything else is read; only then
        `claims` and `profile` may call the provider again."""
        if not response.id_token:
            raise TokenRejected(f"{self.provider_label} returned no ID token; the openid scope may be missing.")
        validated = self.validator.validate_sign_in(response.id_token, callback.nonce)
        claims = self.claims(validated, response.access_token)
        identity = self.identity(validated, claims)
        return SignInResult(identity, self.profile(identity, claims, response.access_token), self.tokens_from(response))

    def refreshed_identity(self, response: TokenResponse, previous: Identity) -> Identity | None:
        if not response.id_token:
            return None
        validated = self.validator.validate_refreshed(response.id_token)
        identity = self.identity(validated, validated.claims)
        check_same_person(identity, previous, self.provider_label)
        return identity

    def authorization_response_issuer(self) -> AuthorizationResponseIssuer:
        metadata = self.discovery.get()
        return AuthorizationResponseIssuer(
            metadata.issuer, metadata.raw.get(ISS_PARAMETER_SUPPORTED) is True, matches=self.serves_issuer
        )

    # --- sign-out ---------------------------------------------------------------------------

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout when the provider offers it. Uses only the cached discovery
        document: local sign-out must never wait on the provider."""
        metadata: ProviderMetadata | None = self.discovery.cached()
        if metadata is None or not metadata.end_session_endpoint:
            return None
        return add_query(
            metadata.end_session_endpoint,
            {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri},
        )

    def backchannel_logout(self, logout_token: str) -> LogoutRequest | None:
        validated = self.logout_tokens.validate(logout_token)
        return LogoutRequest(
            sid=validated.sid, subject=self.logout_subject(validated.sub), jti=validated.jti, expires_at=validated.expires_at
        )

    def logout_subject(self, sub: str | None) -> str | None:
        """The hub subject a logout token's `sub` names (the same as `Identity.subject`)."""
        return sub

    def frontchannel_logout(self, params: Mapping[str, str]) -> str | None:
        """OpenID Connect Front-Channel Logout 1.0: `sid`, and `iss` when the provider sends
        it; an `iss` this provider does not serve is refused."""
        sid = params.get("sid")
        if not sid:
            raise SignInError(
                f"{self.provider_label}'s sign-out request names no session (sid).", code="logout_request_invalid"
            )
        if "iss" in params and not self.serves_issuer(params["iss"]):
            raise SignInError(
                f"The sign-out request names an issuer {self.provider_label} does not serve.", code="issuer_mismatch"
            )
        return sid

    @property
    def frontchannel_origins(self) -> tuple[str, ...]:
        parts = urlsplit(self.issuer)
        return (f"{parts.scheme}://{parts.netloc}",)

    def health(self) -> list[HealthCheck]:
        return discovery_health(self.discovery, self.jwks)


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


def profile_from_claims(claims: Mapping[str, Any]) -> Profile:
    """Display data from standard claims (OIDC Core 5.1). `email_verified` counts only when
    the provider says exactly true."""

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) and value else None

    return Profile(
        display_name=text("name") or text("preferred_username"),
        email=text("email"),
        email_verified=claims.get("email_verified") is True,
        given_name=text("given_name"),
        family_name=text("family_name"),
        username=text("preferred_username"),
        extra={k: v for k, v in (("picture", text("picture")), ("locale", text("locale"))) if v},
    )
