"""The `github` provider type: GitHub OAuth apps (and GitHub App user tokens) over plain OAuth 2.

GitHub has no ID token: the person is whoever `GET /user` says the new access token belongs
to, keyed by the numeric `id` (a login can be renamed and reused). The token endpoint's quirks
(errors with HTTP 200, GitHub's own error names, comma-separated scopes) are handled through
hub.oidc.TokenClient's aliases, so the error rules stay shared with every other provider.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from hub.errors import HubError, ProviderDenied, ProviderUnavailable, SignInError, TokenRejected
from hub.oidc import ClientSecretPost, Clock, OAuthErrorBody, TokenClient, TokenResponse, add_query, read_json
from hub.provider import (
    AuthorizationRequest,
    Callback,
    HealthCheck,
    Identity,
    Profile,
    ProviderContext,
    ProviderType,
    RefreshResult,
    SignInResult,
    Tokens,
)
from hub_github.settings import GitHubSettings, parse_settings

API_VERSION = "2022-11-28"
ERROR_ALIASES: Mapping[str, str] = {
    "bad_verification_code": "invalid_grant",  # code wrong, expired, reused, or PKCE mismatch
    "bad_refresh_token": "invalid_grant",  # refresh token spent (single use) or expired
    "incorrect_client_credentials": "invalid_client",
    "redirect_uri_mismatch": "invalid_request",
    "unverified_user_email": "access_denied",
}
"""GitHub's token endpoint error names -> the RFC 6749 errors they mean."""

AUTHORIZATION_ERRORS: Mapping[str, str] = {
    "access_denied": "You declined to let the hub read your GitHub profile. Start again and authorize if you want to sign in.",
    "redirect_uri_mismatch": "The hub's callback address is not the one registered in the GitHub OAuth app; an administrator must fix the app's callback URL.",
    "application_suspended": "The hub's GitHub OAuth app is suspended; an administrator must contact GitHub.",
}


class GitHubProvider(ProviderType):
    """One configured GitHub OAuth app."""

    type_name: ClassVar[str] = "github"

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
        self.config: GitHubSettings = parse_settings(provider_id, settings)
        self.clock = clock
        self.token_client = TokenClient(
            context.http,
            lambda: f"{self.config.web_base_url}/login/oauth/access_token",
            ClientSecretPost(self.config.client_id, self.config.client_secret),
            provider_code=_github_error_name,
            provider_label="GitHub",
            error_aliases=ERROR_ALIASES,
        )

    def __repr__(self) -> str:
        return f"GitHubProvider(id={self.id!r}, web_base_url={self.config.web_base_url!r})"

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        return self.config.scopes

    def authorization_url(self, request: AuthorizationRequest) -> str:
        """GitHub has no nonce (no ID token); state and PKCE S256 carry the protection."""
        params = {
            "client_id": self.config.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": request.state,
            "code_challenge": request.code_challenge,
            "code_challenge_method": "S256",
            "allow_signup": "true" if self.config.allow_signup else "false",
        }
        if request.prompt:
            params["prompt"] = request.prompt
        return add_query(f"{self.config.web_base_url}/login/oauth/authorize", params)

    def complete_sign_in(self, callback: Callback) -> SignInResult:
        params = callback.params
        if params.get("error"):
            error = params["error"]
            message = AUTHORIZATION_ERRORS.get(error, f"GitHub did not sign you in ({error[:60]}).")
            raise ProviderDenied(message, provider_code=error[:60])
        code = params.get("code")
        if not code:
            raise SignInError("GitHub's answer carried no authorization code.")
        response = self.token_client.exchange_code(code, self.redirect_uri, callback.code_verifier)
        tokens = _tokens(response, self.clock())
        user = self._api(tokens.access_token, "/user")
        identity = self._identity(user)
        return SignInResult(identity, self._profile(user, tokens.access_token), tokens)

    def refresh(self, refresh_token: str, previous: Identity) -> RefreshResult:
        """Expiring user tokens: the refresh token is single-use and GitHub sends a new one
        each time (the vault stores it in the same transaction). No ID token, so no identity."""
        response = self.token_client.refresh(refresh_token)
        tokens = _tokens(response, self.clock())
        if tokens.refresh_token is None:
            tokens = dataclasses.replace(tokens, refresh_token=refresh_token)
        return RefreshResult(tokens=tokens)

    def revoke(self, tokens: Tokens) -> None:
        """DELETE /applications/{client_id}/token with the app's Basic credentials."""
        pair = f"{self.config.client_id}:{self.config.client_secret}".encode()
        response = self.context.http.delete(
            f"{self.config.api_base_url}/applications/{self.config.client_id}/token",
            json={"access_token": tokens.access_token},
            headers={**_api_headers(), "Authorization": "Basic " + base64.b64encode(pair).decode("ascii")},
        )
        if response.status_code not in (204, 404, 422):
            raise ProviderUnavailable(f"GitHub did not revoke the token (HTTP {response.status_code}).")

    def health(self) -> list[HealthCheck]:
        try:
            response = self.context.http.get(f"{self.config.api_base_url}/meta", headers=_api_headers())
        except HubError as exc:
            return [HealthCheck("GitHub API", False, exc.message)]
        return [HealthCheck("GitHub API", response.status_code == 200, f"HTTP {response.status_code}")]

    # --- GitHub REST ----------------------------------------------------------------------

    def _api(self, access_token: str, path: str) -> Any:
        response = self.context.http.get(
            f"{self.config.api_base_url}{path}",
            headers={**_api_headers(), "Authorization": f"Bearer {access_token}"},
        )
        if response.status_code == 401:
            raise TokenRejected(
                "GitHub refused the access token it had just issued (401 Bad credentials): the "
                "OAuth app may have been revoked or the token expired. Start the sign-in again.",
                code="token_revoked",
            )
        if response.status_code in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
            raise ProviderUnavailable("GitHub's API rate limit for the hub is used up; wait a few minutes.")
        if response.status_code != 200:
            raise ProviderUnavailable(f"GitHub's API answered {path} with HTTP {response.status_code}.")
        return read_json(response, f"GitHub API {path}")

    def _identity(self, user: Any) -> Identity:
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise TokenRejected("GitHub's /user answer has no numeric id.", code="missing_claim")
        return Identity(subject=str(user_id), issuer=self.config.web_base_url)

    def _profile(self, user: Mapping[str, Any], access_token: str) -> Profile:
        email = self._verified_primary_email(access_token)
        login = user.get("login") if isinstance(user.get("login"), str) else None
        return Profile(
            display_name=_text(user.get("name")) or login,
            email=email,
            email_verified=email is not None,
            username=login,
            extra={k: v for k, v in (("avatar_url", _text(user.get("avatar_url"))), ("html_url", _text(user.get("html_url")))) if v},
        )

    def _verified_primary_email(self, access_token: str) -> str | None:
        """Only the primary *and* verified address (G02); without the user:email scope there
        is none, which is not an error."""
        try:
            emails = self._api(access_token, "/user/emails")
        except ProviderUnavailable:
            return None
        if not isinstance(emails, list):
            return None
        for entry in emails:
            if isinstance(entry, dict) and entry.get("primary") is True and entry.get("verified") is True:
                return _text(entry.get("email"))
        return None


def _tokens(response: TokenResponse, now: float) -> Tokens:
    """GitHub separates granted scopes with commas."""
    scope = (response.scope or "").replace(",", " ")
    return dataclasses.replace(response, scope=scope).to_tokens(now)


def _api_headers() -> dict[str, str]:
    return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}


def _github_error_name(error: OAuthErrorBody) -> str | None:
    name = error.raw.get("error")
    return name[:60] if isinstance(name, str) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["GitHubProvider"]
