"""`OAuth2Provider`: the base class of a provider type that speaks plain OAuth 2.0 (RFC 6749
authorization code with PKCE) and learns who signed in from a profile endpoint (GitHub,
GitLab, most "Sign in with X" without OpenID Connect).

It owns the wiring every such provider repeats: settings loaded once in `__init__` (no
network I/O), the token client with client authentication, the authorization URL, `error=`
callbacks, the code exchange, refresh (keeping the old refresh token when none comes back),
revocation (RFC 7009) and the profile request with one error mapping. A subclass overrides
small hooks; see docs/plugins.md for the list and an example.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from hub.core.errors import HubError, ProviderDenied, SignInError, TokenRejected
from hub.upstream.protocol.authorization import authorization_url
from hub.upstream.protocol.client_auth import ClientAuth, secret_client_auth
from hub.upstream.protocol.common import Clock
from hub.upstream.protocol.token_endpoint import OAuthErrorBody, TokenClient, TokenResponse
from hub.upstream.protocol.userinfo import fetch_protected_json
from hub.upstream.provider import (
    AuthorizationRequest,
    AuthorizationResponseIssuer,
    Callback,
    Identity,
    Profile,
    ProviderContext,
    ProviderType,
    RefreshResult,
    SignInResult,
    Tokens,
)

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
"""A sentence a person can act on for each RFC 6749 4.1.2.1 error (OpenID Connect's too)."""


class OAuth2Provider(ProviderType):
    """Base of a plain OAuth 2.0 provider type. Override `load_settings`,
    `authorization_endpoint`, `token_endpoint`, `profile_endpoint` and
    `identity_from_profile`; the other hooks have defaults."""

    label: ClassVar[str | None] = None
    """How messages name the identity provider ("GitHub"); None: the configured name."""
    authorization_errors: ClassVar[Mapping[str, str]] = AUTHORIZATION_ERRORS
    """Sentences for `error=` callbacks, by error code; unknown codes get a generic one."""
    token_error_aliases: ClassVar[Mapping[str, str]] = {}
    """The provider's own token-endpoint error names -> the RFC 6749 errors they mean."""

    def __init__(
        self,
        provider_id: str,
        name: str,
        settings: Mapping[str, Any],
        context: ProviderContext,
        *,
        clock: Clock = time.time,
    ) -> None:
        """Checks the settings (`load_settings`) and builds the token client; no network I/O
        (discovery, keys and everything else are fetched on first use)."""
        super().__init__(provider_id, name, settings, context)
        self.clock = clock
        self.config: Any = self.load_settings(settings)
        self.token_client = TokenClient(
            context.http,
            self.token_endpoint,
            self.client_auth(),
            provider_code=self.provider_code,
            provider_label=self.provider_label,
            error_aliases=self.token_error_aliases,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"

    # --- hooks a subclass overrides ---------------------------------------------------------

    def load_settings(self, settings: Mapping[str, Any]) -> Any:
        """Check `settings` and return them as a typed value (kept as `self.config`); raise
        ConfigError naming `providers.<id>.<key>`, never repeating a secret. The defaults of
        `client_id`, `requested_scopes` and `client_auth` read `client_id`, `scopes`,
        `client_secret` and `client_auth_method` from it."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_settings")

    def authorization_endpoint(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement authorization_endpoint")

    def token_endpoint(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement token_endpoint")

    def profile_endpoint(self) -> str:
        """Where `fetch_profile` reads who the access token belongs to."""
        raise NotImplementedError(f"{type(self).__name__} must implement profile_endpoint")

    def identity_from_profile(self, profile: Any) -> Identity:
        """The Identity in a profile answer: its immutable id as `subject` (use
        `subject_from`), never a login name or email."""
        raise NotImplementedError(f"{type(self).__name__} must implement identity_from_profile")

    def profile_from(self, profile: Any, access_token: str) -> Profile:
        """Display data from the profile answer. `email_verified` only when the provider
        says so; the default shows nothing but the name."""
        name = profile.get("name") if isinstance(profile, dict) else None
        return Profile(display_name=name if isinstance(name, str) and name else None)

    def fetch_profile(self, access_token: str) -> Any:
        """The profile answer for a new access token (see hub.upstream.protocol.userinfo for its errors)."""
        return fetch_protected_json(
            self.context.http, self.profile_endpoint(), access_token, what="profile endpoint", provider_label=self.provider_label
        )

    @property
    def client_id(self) -> str:
        return str(self.config.client_id)

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        return tuple(self.config.scopes)

    @property
    def token_request_scopes(self) -> tuple[str, ...]:
        """Scopes sent again with the code and refresh requests (Entra needs them); none by
        default."""
        return ()

    @property
    def issuer(self) -> str | None:
        """The authorization server's issuer identifier (RFC 8414), when it has one; the core
        then checks callbacks' `iss` against it (RFC 9207)."""
        return None

    @property
    def provider_label(self) -> str:
        return self.label or self.name

    def client_auth(self) -> ClientAuth:
        """How the hub authenticates at the token endpoint; the default is the client secret
        with `config.client_auth_method` (client_secret_basic unless it says post)."""
        method = getattr(self.config, "client_auth_method", "client_secret_basic")
        return secret_client_auth(self.client_id, self.config.client_secret, method)

    def authorization_params(self, request: AuthorizationRequest) -> Mapping[str, str]:
        """Extra parameters of the authorization request (never state, PKCE or nonce)."""
        return {}

    def nonce(self, request: AuthorizationRequest) -> str | None:
        """The nonce sent, None for plain OAuth 2.0 (it has no ID token to carry one)."""
        return None

    def describe_authorization_error(self, error: str, description: str) -> HubError:
        """The error for an `error=` callback: our sentence, not the provider's text (it may
        carry markup), with its error code kept for support."""
        message = self.authorization_errors.get(error, f"{self.provider_label} did not sign you in ({error[:60]}).")
        return ProviderDenied(message, provider_code=error[:60])

    def provider_code(self, error: OAuthErrorBody) -> str | None:
        """A provider-specific code in a token-endpoint error, shown for support."""
        return None

    def tokens_from(self, response: TokenResponse) -> Tokens:
        """The tokens to store from a token response (adjust granted scopes here)."""
        return response.to_tokens(self.clock())

    def sign_in_result(self, response: TokenResponse, callback: Callback) -> SignInResult:
        """Who signed in, once the code is redeemed: the profile endpoint's answer."""
        tokens = self.tokens_from(response)
        profile = self.fetch_profile(tokens.access_token)
        return SignInResult(self.identity_from_profile(profile), self.profile_from(profile, tokens.access_token), tokens)

    def refreshed_identity(self, response: TokenResponse, previous: Identity) -> Identity | None:
        """The identity a refresh answer names (OpenID Connect: its ID token); None here."""
        return None

    def revocation_endpoint(self) -> str | None:
        """The RFC 7009 revocation endpoint, or None (then `revoke` does nothing)."""
        return None

    # --- the ProviderType contract ----------------------------------------------------------

    def authorization_url(self, request: AuthorizationRequest) -> str:
        return authorization_url(
            self.authorization_endpoint(),
            client_id=self.client_id,
            redirect_uri=self.redirect_uri,
            scopes=self.requested_scopes,
            state=request.state,
            nonce=self.nonce(request),
            code_challenge=request.code_challenge,
            prompt=request.prompt,
            extra={**({"login_hint": request.login_hint} if request.login_hint else {}), **self.authorization_params(request)},
        )

    def complete_sign_in(self, callback: Callback) -> SignInResult:
        """`error=` answers become ProviderDenied; otherwise the code is redeemed with the
        PKCE verifier and `sign_in_result` says who it was. (The core has already checked
        the response's `iss`.)"""
        params = callback.params
        if params.get("error"):
            raise self.describe_authorization_error(params["error"], params.get("error_description", ""))
        code = params.get("code")
        if not code:
            raise SignInError(f"{self.provider_label}'s answer carried no authorization code.")
        response = self.token_client.exchange_code(code, self.redirect_uri, callback.code_verifier, self.token_request_scopes)
        return self.sign_in_result(response, callback)

    def refresh(self, refresh_token: str, previous: Identity) -> RefreshResult:
        """Redeem the refresh token. Providers that do not rotate refresh tokens send none
        back; the old one is kept."""
        response = self.token_client.refresh(refresh_token, self.token_request_scopes)
        identity = self.refreshed_identity(response, previous)
        tokens = self.tokens_from(response)
        if tokens.refresh_token is None:
            tokens = dataclasses.replace(tokens, refresh_token=refresh_token)
        return RefreshResult(tokens=tokens, identity=identity)

    def revoke(self, tokens: Tokens) -> None:
        """RFC 7009: the refresh token (which revokes its grant at most servers), then the
        access token, when the provider has a revocation endpoint."""
        endpoint = self.revocation_endpoint()
        if endpoint is None:
            return
        if tokens.refresh_token:
            self.token_client.revoke(endpoint, tokens.refresh_token, "refresh_token")
        self.token_client.revoke(endpoint, tokens.access_token, "access_token")

    def authorization_response_issuer(self) -> AuthorizationResponseIssuer | None:
        issuer = self.issuer
        return AuthorizationResponseIssuer(issuer) if issuer else None


def subject_from(value: Any, provider_label: str, field_name: str = "id") -> str:
    """An immutable id from a profile answer as the hub's subject: a positive integer or a
    non-empty string, always returned as a string; anything else is refused."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    raise TokenRejected(f"{provider_label}'s profile answer has no usable {field_name}.", code="missing_claim")
