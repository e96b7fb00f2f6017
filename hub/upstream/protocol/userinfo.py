"""The UserInfo endpoint (OpenID Connect Core 5.3) and, generally, a protected JSON resource
read with the access token (a plain OAuth 2.0 provider's profile endpoint).

One rule for every such call: the token goes in a Bearer header (never a query string, RFC
6750 2.1); a 5xx, 429, timeout, HTML page or malformed body is ProviderUnavailable (the
provider, not the person, is at fault); a 401/403 is TokenRejected (the provider refused the
token it had just issued).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from hub.core.errors import ProviderUnavailable, TokenRejected
from hub.upstream.protocol.common import read_json


def fetch_protected_json(
    http: requests.Session,
    url: str,
    access_token: str,
    *,
    what: str,
    provider_label: str = "The identity provider",
    headers: Mapping[str, str] | None = None,
    refused_code: str = "token_refused",
) -> Any:
    """GET `url` with the access token and return its JSON body; errors as described above.
    `what` names the endpoint in messages ("userinfo endpoint", "profile endpoint")."""
    response = http.get(
        url, headers={"Accept": "application/json", **(headers or {}), "Authorization": f"Bearer {access_token}"}
    )
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(f"{provider_label}'s {what} answered HTTP {response.status_code}.")
    if response.status_code in (401, 403):
        raise TokenRejected(
            f"{provider_label}'s {what} refused the access token it just issued "
            f"(HTTP {response.status_code}).",
            code=refused_code,
        )
    if response.status_code != 200:
        raise ProviderUnavailable(f"{provider_label}'s {what} answered HTTP {response.status_code}.")
    return read_json(response, what)


def fetch_userinfo(
    http: requests.Session, endpoint: str, access_token: str, *, provider_label: str = "The identity provider"
) -> Mapping[str, Any]:
    """The UserInfo claims (OIDC Core 5.3) for an access token. Only JSON answers are
    accepted; signed UserInfo is not supported."""
    claims = fetch_protected_json(
        http, endpoint, access_token, what="userinfo endpoint", provider_label=provider_label, refused_code="userinfo_refused"
    )
    if not isinstance(claims, dict):
        raise ProviderUnavailable(f"{provider_label}'s userinfo answer is not a JSON object.")
    return claims


def check_userinfo_subject(userinfo: Mapping[str, Any], id_token_claims: Mapping[str, Any]) -> None:
    """OIDC Core 5.3.2: the UserInfo `sub` must equal the ID token's, or the answer is about
    someone else and must not be used (C10)."""
    if userinfo.get("sub") != id_token_claims.get("sub"):
        raise TokenRejected(
            "The provider's userinfo answer names a different person than the ID token (sub "
            "differs).",
            code="subject_mismatch",
        )
