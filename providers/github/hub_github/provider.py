"""The `github` provider type: GitHub OAuth apps (and GitHub App user tokens) over plain OAuth 2.

GitHub has no ID token: the person is whoever `GET /user` says the new access token belongs
to, keyed by the numeric `id` (a login can be renamed and reused). The token endpoint's quirks
(errors with HTTP 200, GitHub's own error names, comma-separated scopes) are handled through
hub.oidc's OAuth2Provider hooks (`token_error_aliases`), so the error rules stay shared with
every other provider.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from hub.errors import HubError, ProviderUnavailable, RefreshRejected, TokenRejected
from hub.oidc import ClientAuth, ClientSecretPost, OAuth2Provider, OAuthErrorBody, TokenResponse, read_json
from hub.provider import AuthorizationRequest, HealthCheck, Identity, Profile, Tokens
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


class GitHubProvider(OAuth2Provider):
    """One configured GitHub OAuth app."""

    type_name: ClassVar[str] = "github"
    label: ClassVar[str | None] = "GitHub"
    authorization_errors: ClassVar[Mapping[str, str]] = AUTHORIZATION_ERRORS
    token_error_aliases: ClassVar[Mapping[str, str]] = ERROR_ALIASES
    config: GitHubSettings

    def load_settings(self, settings: Mapping[str, Any]) -> GitHubSettings:
        return parse_settings(self.id, settings)

    def __repr__(self) -> str:
        return f"GitHubProvider(id={self.id!r}, web_base_url={self.config.web_base_url!r})"

    def authorization_endpoint(self) -> str:
        return f"{self.config.web_base_url}/login/oauth/authorize"

    def token_endpoint(self) -> str:
        return f"{self.config.web_base_url}/login/oauth/access_token"

    def client_auth(self) -> ClientAuth:
        return ClientSecretPost(self.config.client_id, self.config.client_secret)

    def authorization_params(self, request: AuthorizationRequest) -> Mapping[str, str]:
        """GitHub has no nonce (no ID token); state and PKCE S256 carry the protection."""
        return {"allow_signup": "true" if self.config.allow_signup else "false"}

    def provider_code(self, error: OAuthErrorBody) -> str | None:
        name = error.raw.get("error")
        return name[:60] if isinstance(name, str) else None

    def tokens_from(self, response: TokenResponse) -> Tokens:
        """GitHub separates granted scopes with commas."""
        scope = (response.scope or "").replace(",", " ")
        return dataclasses.replace(response, scope=scope).to_tokens(self.clock())

    def fetch_profile(self, access_token: str) -> Any:
        return self._api(access_token, "/user")

    def identity_from_profile(self, profile: Any) -> Identity:
        user_id = profile.get("id") if isinstance(profile, dict) else None
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
            raise TokenRejected("GitHub's /user answer has no numeric id.", code="missing_claim")
        return Identity(subject=str(user_id), issuer=self.config.web_base_url)

    def check_account(self, tokens: Tokens, previous: Identity) -> Identity | None:
        """`GET /user` with the stored token, for OAuth apps (no refresh tokens): 200 naming the
        same numeric id confirms the account; 401 means GitHub no longer honours the token (the
        person revoked the app, the account was deleted or suspended): refused for good."""
        try:
            identity = self.identity_from_profile(self._api(tokens.access_token, "/user"))
        except TokenRejected as exc:
            raise RefreshRejected(
                "GitHub no longer accepts the stored token (401 Bad credentials).", provider_code="bad_credentials"
            ) from exc
        if identity.subject != previous.subject:
            raise RefreshRejected("GitHub's /user names another account for the stored token.", provider_code="other_user")
        return identity

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

    def profile_from(self, user: Any, access_token: str) -> Profile:
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


def _api_headers() -> dict[str, str]:
    return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["GitHubProvider"]
