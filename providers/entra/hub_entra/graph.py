"""Reads the signed-in person's profile from Microsoft Graph `/v1.0/me`.

The profile is display data only: it never identifies anyone. Its `id` must equal the ID
token's `oid`, which proves the access token belongs to the person the ID token names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from hub.errors import HubError, ProviderMisconfigured, ProviderUnavailable, TokenRejected
from hub.oidc import read_json
from hub.provider import Profile

ME_FIELDS = ("id", "displayName", "mail", "userPrincipalName", "givenName", "surname", "jobTitle")


class GraphClient:
    """Calls Graph with a delegated access token; the token is never parsed (it is opaque)."""

    def __init__(self, http: requests.Session, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    def me(self, access_token: str) -> Mapping[str, Any]:
        """The `/me` object with the fields the hub shows, or a hub error saying what broke."""
        url = f"{self.base_url}/v1.0/me"
        response = self.http.get(
            url,
            params={"$select": ",".join(ME_FIELDS)},
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code != 200:
            raise _graph_error(response)
        body = read_json(response, "Microsoft Graph")
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ProviderUnavailable("Microsoft Graph answered /me without an id.")
        return body


def profile_from_me(me: Mapping[str, Any], tenant_id: str) -> Profile:
    """Graph's user object as the hub's Profile. The email is `mail`, else the UPN, and is
    never marked verified: Entra does not verify the Mail attribute (nOAuth)."""
    upn = _text(me.get("userPrincipalName"))
    return Profile(
        display_name=_text(me.get("displayName")),
        email=_text(me.get("mail")) or upn,
        email_verified=False,
        given_name=_text(me.get("givenName")),
        family_name=_text(me.get("surname")),
        job_title=_text(me.get("jobTitle")),
        username=upn,
        extra={"tenant_id": tenant_id},
    )


def _graph_error(response: requests.Response) -> HubError:
    code, message = _error_body(response)
    detail = f" ({code}: {message})" if code else ""
    status = response.status_code
    if status == 401:
        return TokenRejected(f"Microsoft Graph refused the access token the sign-in produced{detail}.")
    if status == 403:
        return ProviderMisconfigured(
            "Microsoft Graph refused to read the profile: the app registration needs the "
            f"delegated permission User.Read, with consent granted{detail}."
        )
    if status == 429:
        retry = response.headers.get("Retry-After")
        wait = f" It asked to wait {retry} s." if retry else ""
        return ProviderUnavailable(f"Microsoft Graph is throttling the hub (HTTP 429).{wait}")
    if status >= 500:
        return ProviderUnavailable(f"Microsoft Graph answered HTTP {status}{detail}.")
    return ProviderUnavailable(f"Microsoft Graph answered /me with HTTP {status}{detail}.")


def _error_body(response: requests.Response) -> tuple[str, str]:
    """Graph's `{"error": {"code", "message"}}`, shortened; empty when absent."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or "")[:80], str(error.get("message") or "")[:200]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
