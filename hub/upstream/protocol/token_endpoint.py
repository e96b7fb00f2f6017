"""The token endpoint (RFC 6749 4.1.3, 6 and 5.2) and token revocation (RFC 7009).

Authlib's OAuth 2.0 client builds and sends the requests: the grant's form, client
authentication (hub.upstream.protocol.client_auth), the revocation body. It sends them through the
provider's `requests.Session` (the hub's `ProviderSession`: timeouts, one bounded retry,
connection errors as ProviderUnavailable), never a session of its own. Reading the answer
stays ours: Authlib raises `requests.HTTPError` on a 5xx and `OAuthError` on an error body,
and `int()`s `expires_in` unchecked, while the hub needs one error per RFC 6749 error (with
the provider's own code and a redacted description) and must never crash on a malformed
answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from authlib.integrations.requests_client.oauth2_session import OAuth2ClientAuth
from authlib.oauth2.client import OAuth2Client

from hub.core.errors import (
    HubError,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    SignInError,
    TokenRejected,
)
from hub.upstream.protocol.client_auth import ClientAuth
from hub.upstream.protocol.common import first_line, is_number, read_json, redact
from hub.upstream.provider import Tokens


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


class _AuthlibClient(OAuth2Client):
    """Authlib's OAuth 2.0 client on the hub's session, with the hub's answer parsing."""

    client_auth_class = OAuth2ClientAuth

    def __init__(self, http: requests.Session, client_id: str, parse: Callable[[requests.Response], TokenResponse]) -> None:
        super().__init__(http, client_id=client_id)
        self._parse = parse

    def parse_response_token(self, resp: requests.Response) -> TokenResponse:  # type: ignore[override]
        return self._parse(resp)


class TokenClient:
    """Redeems authorization codes and refresh tokens at one token endpoint (and revokes
    tokens), turning OAuth errors into hub errors a person can act on."""

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
        if not code:
            raise SignInError(f"{self.provider_label}'s answer carried no authorization code.")
        form = {"code": code, "redirect_uri": redirect_uri, "code_verifier": code_verifier}
        return self._request("authorization_code", form, scopes, (code, code_verifier), TokenRejected)

    def refresh(self, refresh_token: str, scopes: Iterable[str] = ()) -> TokenResponse:
        """refresh_token grant; `invalid_grant` means the person must sign in again
        (RefreshRejected)."""
        if not refresh_token:
            raise RefreshRejected(f"There is no refresh token for {self.provider_label}; the person must sign in again.")
        form = {"refresh_token": refresh_token}
        return self._request("refresh_token", form, scopes, (refresh_token,), RefreshRejected)

    def revoke(self, endpoint: str, token: str, token_type_hint: str | None = None) -> None:
        """RFC 7009 revocation with the same client authentication. The server answers 200
        for unknown tokens too (2.2); only an outage or a refusal of the hub's credentials
        is an error."""
        client = _AuthlibClient(self.http, self.client_auth.client_id, self._refuse_parsing)
        response = client.revoke_token(
            endpoint, token=token, token_type_hint=token_type_hint, auth=self.client_auth.requests_auth()
        )
        if response.status_code == 200:
            return
        raise self._error_for(response, (token, *self.client_auth.secrets()), TokenRejected, "revocation endpoint")

    def _request(
        self,
        grant_type: str,
        form: dict[str, str],
        scopes: Iterable[str],
        grant_secrets: tuple[str, ...],
        on_invalid_grant: type[HubError],
    ) -> TokenResponse:
        scope = " ".join(scopes)
        if scope:
            form["scope"] = scope
        secrets = (*grant_secrets, *self.client_auth.secrets())

        def parse(response: requests.Response) -> TokenResponse:
            # Some providers (GitHub) answer errors with HTTP 200: any `error` key is a failure.
            if response.status_code == 200 and parse_oauth_error(response) is None:
                return self._parse_success(response)
            raise self._error_for(response, secrets, on_invalid_grant, "token endpoint")

        client = _AuthlibClient(self.http, self.client_auth.client_id, parse)
        return client.fetch_token(  # type: ignore[no-any-return]
            self.token_endpoint(),
            grant_type=grant_type,
            headers={"Accept": "application/json"},
            auth=self.client_auth.requests_auth(),
            **form,
        )

    def _refuse_parsing(self, response: requests.Response) -> TokenResponse:
        raise AssertionError("a revocation answer is not a token response")

    def _parse_success(self, response: requests.Response) -> TokenResponse:
        body = read_json(response, "token endpoint")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ProviderUnavailable(
                f"{self.provider_label}'s token endpoint answered without an access token."
            )
        return TokenResponse(
            access_token=body["access_token"],
            token_type=str(body.get("token_type", "Bearer")),
            expires_in=_seconds(body.get("expires_in")),
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
        endpoint_name: str,
    ) -> HubError:
        label = self.provider_label
        if response.status_code >= 500 or response.status_code == 429:
            retry = response.headers.get("Retry-After")
            wait = f" It asked to wait {retry} s." if retry else ""
            return ProviderUnavailable(
                f"{label}'s {endpoint_name} answered HTTP {response.status_code}.{wait}"
            )
        error = parse_oauth_error(response)
        if error is None:
            return ProviderUnavailable(
                f"{label}'s {endpoint_name} answered HTTP {response.status_code} without an OAuth error."
            )
        if error.error in self.error_aliases:
            error = dataclasses.replace(error, error=self.error_aliases[error.error])
        return map_oauth_error(
            error, label, redact(first_line(error.description), secrets), self.provider_code(error), on_invalid_grant
        )


def map_oauth_error(
    error: OAuthErrorBody,
    label: str,
    detail: str,
    provider_code: str | None,
    on_invalid_grant: type[HubError],
) -> HubError:
    """The hub error for an RFC 6749 5.2 error: what the person reads and the audit reason.
    `detail` is the provider's description, already redacted."""
    suffix = f" ({detail})" if detail else ""
    if error.error == "invalid_client":
        return ProviderMisconfigured(
            f"{label} rejected the hub's client credentials: the client secret or "
            f"certificate is wrong or expired.{suffix}",
            provider_code=provider_code,
        )
    if error.error == "invalid_grant":
        return on_invalid_grant(f"{label} refused the grant ({error.error}).{suffix}", provider_code=provider_code)
    if error.error in {"temporarily_unavailable", "server_error"}:
        return ProviderUnavailable(f"{label} is temporarily unavailable.{suffix}", provider_code=provider_code)
    if error.error in {"interaction_required", "consent_required"} and on_invalid_grant is RefreshRejected:
        return RefreshRejected(
            f"{label} needs the person to sign in again ({error.error}).{suffix}", provider_code=provider_code
        )
    if error.error in {"interaction_required", "consent_required"}:
        return TokenRejected(
            f"{label} needs more from the person or an administrator ({error.error}), for "
            f"example admin consent or multi-factor sign-in.{suffix}",
            provider_code=provider_code,
        )
    return ProviderMisconfigured(
        f"{label}'s token endpoint refused the request ({error.error}).{suffix}", provider_code=provider_code
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


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: Any) -> int | None:
    """expires_in as an int; some providers send it as a string."""
    if is_number(value) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None
