"""The `oidc` provider type: any OpenID Connect provider, configured by its issuer URL.

Every protocol rule lives in hub.oidc (discovery with an exact issuer match, JWKS, ID token
validation, the token endpoint, the RFC 9207 `iss` check, userinfo, logout tokens); this
module only wires them to one configured provider and maps claims to the hub's values.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from hub.errors import HubError, ProviderDenied, SignInError, TokenRejected
from hub.oidc import (
    ClientAuth,
    Clock,
    DiscoveryCache,
    IdTokenValidator,
    JwksCache,
    LogoutTokenValidator,
    TokenClient,
    ValidatedIdToken,
    add_query,
    authorization_url,
    check_authorization_response_issuer,
    check_same_person,
    check_userinfo_subject,
    discovery_health,
    exact_issuer,
    fetch_userinfo,
    secret_client_auth,
)
from hub.provider import (
    AuthorizationRequest,
    Callback,
    HealthCheck,
    Identity,
    LogoutRequest,
    Profile,
    ProviderContext,
    ProviderType,
    RefreshResult,
    SignInResult,
)
from hub_oidc.settings import OidcSettings, parse_settings

AUTHORIZATION_ERRORS: Mapping[str, str] = {
    "access_denied": "You declined to sign in, or declined to share your profile. Start again and accept if you want to sign in.",
    "login_required": "You are not signed in at the identity provider. Start again and sign in.",
    "consent_required": "The identity provider needs your consent first. Start again and accept.",
    "interaction_required": "The identity provider needs more from you before it can sign you in. Start again.",
    "temporarily_unavailable": "The identity provider is busy. Wait a minute and try again.",
    "server_error": "The identity provider had an error. Wait a minute and try again.",
    "unauthorized_client": "The hub's client is not allowed to sign people in this way; an administrator must check its registration at the provider.",
    "invalid_request": "The identity provider refused the hub's sign-in request; an administrator must check the provider settings.",
    "invalid_scope": "The identity provider refused the scopes the hub asked for; an administrator must check the provider's `scopes` setting.",
}


class OidcProvider(ProviderType):
    """One configured OpenID Connect provider. Discovery and keys are fetched lazily and
    cached; `__init__` does no I/O."""

    type_name: ClassVar[str] = "oidc"

    def __init__(
        self,
        provider_id: str,
        name: str,
        settings: Mapping[str, Any],
        context: ProviderContext,
        *,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(provider_id, name, settings, context)
        self.config: OidcSettings = parse_settings(provider_id, settings)
        self.clock = clock
        config = self.config
        self.discovery = DiscoveryCache(
            context.http,
            config.discovery_url,
            accept_issuer=exact_issuer(config.issuer),
            expected_issuer_text=repr(config.issuer),
            ttl=config.discovery_ttl_seconds,
            clock=clock,
        )
        self.jwks = JwksCache(context.http, lambda: self.discovery.get().jwks_uri, clock=clock)
        self.validator = IdTokenValidator(
            self.jwks,
            config.client_id,
            lambda _claims: self.discovery.get().issuer,
            skew_seconds=config.clock_skew_seconds,
            clock=clock,
        )
        self.logout_tokens = LogoutTokenValidator(self.validator)
        self.token_client = TokenClient(
            context.http,
            lambda: self.discovery.get().token_endpoint,
            self._client_auth(),
            provider_label=name,
        )

    def __repr__(self) -> str:
        return f"OidcProvider(id={self.id!r}, issuer={self.config.issuer!r})"

    # --- the contract ---------------------------------------------------------------------

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        return self.config.scopes

    def authorization_url(self, request: AuthorizationRequest) -> str:
        return authorization_url(
            self.discovery.get().authorization_endpoint,
            client_id=self.config.client_id,
            redirect_uri=self.redirect_uri,
            scopes=self.config.scopes,
            state=request.state,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            prompt=request.prompt,
            extra=self.config.authorize_params,
        )

    def complete_sign_in(self, callback: Callback) -> SignInResult:
        """Check the answer's issuer (RFC 9207) before the code is redeemed; then validate
        the ID token; only then call userinfo, when configured."""
        params = callback.params
        metadata = self.discovery.get()
        if params.get("error"):
            check_authorization_response_issuer(params, metadata)
            raise self.describe_authorization_error(params["error"], params.get("error_description", ""))
        code = params.get("code")
        if not code:
            raise SignInError(f"{self.name}'s answer carried no authorization code.")
        check_authorization_response_issuer(params, metadata)
        response = self.token_client.exchange_code(code, self.redirect_uri, callback.code_verifier)
        if not response.id_token:
            raise TokenRejected(f"{self.name} returned no ID token; the openid scope may be missing.")
        validated = self.validator.validate_sign_in(response.id_token, callback.nonce)
        claims: Mapping[str, Any] = validated.claims
        if self.config.userinfo:
            claims = self._with_userinfo(validated, response.access_token)
        return SignInResult(self._identity(validated, claims), profile_from_claims(claims), response.to_tokens(self.clock()))

    def refresh(self, refresh_token: str, previous: Identity) -> RefreshResult:
        """Redeem the refresh token; a new ID token must name the same issuer and person
        (OIDC Core 12.2). Providers that do not rotate refresh tokens keep the old one."""
        response = self.token_client.refresh(refresh_token)
        identity = None
        if response.id_token:
            validated = self.validator.validate_refreshed(response.id_token)
            identity = self._identity(validated, validated.claims)
            check_same_person(identity, previous, self.name)
        tokens = response.to_tokens(self.clock())
        if tokens.refresh_token is None:
            tokens = dataclasses.replace(tokens, refresh_token=refresh_token)
        return RefreshResult(tokens=tokens, identity=identity)

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout when the provider offers it. Uses only the cached discovery
        document: local sign-out must never wait on the provider."""
        metadata = self.discovery.cached()
        if metadata is None or not metadata.end_session_endpoint:
            return None
        return add_query(
            metadata.end_session_endpoint,
            {"client_id": self.config.client_id, "post_logout_redirect_uri": post_logout_redirect_uri},
        )

    def backchannel_logout(self, logout_token: str) -> LogoutRequest | None:
        validated = self.logout_tokens.validate(logout_token)
        return LogoutRequest(sid=validated.sid, subject=validated.sub)

    def frontchannel_logout(self, params: Mapping[str, str]) -> str | None:
        """OpenID Connect Front-Channel Logout 1.0: `iss` and `sid` when the provider sends
        them; an `iss` of another issuer is refused."""
        sid = params.get("sid")
        if not sid:
            raise SignInError(f"{self.name}'s sign-out request names no session (sid).", code="logout_request_invalid")
        if "iss" in params and params["iss"] != self.config.issuer:
            raise SignInError(f"The sign-out request names another issuer than {self.name}.", code="issuer_mismatch")
        return sid

    @property
    def frontchannel_origins(self) -> tuple[str, ...]:
        parts = urlsplit(self.config.issuer)
        return (f"{parts.scheme}://{parts.netloc}",)

    def health(self) -> list[HealthCheck]:
        return discovery_health(self.discovery, self.jwks)

    def describe_authorization_error(self, error: str, description: str) -> HubError:
        """A sentence a person can act on for an `error=` callback; the provider's own text
        is not shown (it may carry markup), only its error code for support."""
        message = AUTHORIZATION_ERRORS.get(error, f"{self.name} did not sign you in ({error[:60]}).")
        return ProviderDenied(message, provider_code=error[:60])

    # --- claims ---------------------------------------------------------------------------

    def _with_userinfo(self, validated: ValidatedIdToken, access_token: str) -> Mapping[str, Any]:
        endpoint = self.discovery.get().raw.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise TokenRejected(
                f"{self.name} advertises no userinfo endpoint, but the provider's `userinfo` setting is true.",
                code="userinfo_missing",
            )
        userinfo = fetch_userinfo(self.context.http, endpoint, access_token, provider_label=self.name)
        check_userinfo_subject(userinfo, validated.claims)
        return {**validated.claims, **userinfo}

    def _identity(self, validated: ValidatedIdToken, claims: Mapping[str, Any]) -> Identity:
        sid = validated.claims.get("sid")
        return Identity(
            subject=validated.claims["sub"],
            issuer=validated.claims["iss"],
            roles=self._roles(claims),
            session_id=sid if isinstance(sid, str) else None,
        )

    def _roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """Hub roles from the configured claim, only those named in role_map."""
        if self.config.role_claim is None:
            return frozenset()
        values = claims.get(self.config.role_claim)
        if isinstance(values, str):
            values = values.split()
        if not isinstance(values, list):
            return frozenset()
        role_map = self.config.role_map
        return frozenset(role_map[value] for value in values if isinstance(value, str) and value in role_map)

    def _client_auth(self) -> ClientAuth:
        return secret_client_auth(self.config.client_id, self.config.client_secret, self.config.client_auth_method)


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
