"""The `oidc` provider type: any OpenID Connect provider, configured by its issuer URL.

Every protocol rule lives in hub.oidc (discovery with an exact issuer match, JWKS, ID token
validation, the token endpoint, the RFC 9207 `iss` check, userinfo, logout tokens) and its
`OpenIdConnectProvider` base class; this module adds only what the settings ask for: extra
authorization parameters, userinfo claims, and roles from a configured claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from hub.errors import TokenRejected
from hub.oidc import (
    OpenIdConnectProvider,
    ValidatedIdToken,
    check_userinfo_subject,
    fetch_userinfo,
    profile_from_claims,
)
from hub.provider import AuthorizationRequest
from hub_oidc.settings import OidcSettings, parse_settings

__all__ = ["OidcProvider", "profile_from_claims"]


class OidcProvider(OpenIdConnectProvider):
    """One configured OpenID Connect provider. Discovery and keys are fetched lazily and
    cached; `__init__` does no I/O."""

    type_name: ClassVar[str] = "oidc"
    config: OidcSettings

    def load_settings(self, settings: Mapping[str, Any]) -> OidcSettings:
        return parse_settings(self.id, settings)

    def authorization_params(self, request: AuthorizationRequest) -> Mapping[str, str]:
        return self.config.authorize_params

    def claims(self, validated: ValidatedIdToken, access_token: str) -> Mapping[str, Any]:
        """The ID token's claims, with the UserInfo answer's when `userinfo` is set (called
        only after the ID token passed every check)."""
        if not self.config.userinfo:
            return validated.claims
        endpoint = self.discovery.get().raw.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise TokenRejected(
                f"{self.name} advertises no userinfo endpoint, but the provider's `userinfo` setting is true.",
                code="userinfo_missing",
            )
        userinfo = fetch_userinfo(self.context.http, endpoint, access_token, provider_label=self.name)
        check_userinfo_subject(userinfo, validated.claims)
        return {**validated.claims, **userinfo}

    def roles_from(self, claims: Mapping[str, Any]) -> frozenset[str]:
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
