"""Generic OpenID Connect provider type for Identity Hub (entry point group `identity_hub`).

Install `hub-provider-oidc` and configure a provider with `type = "oidc"` and its `issuer`
(Google: `https://accounts.google.com`, Okta, Auth0, Keycloak realms, Entra as plain OIDC).
Several providers of this type run side by side, each with its own id.
"""

from __future__ import annotations

from hub import hookimpl
from hub_oidc.provider import OidcProvider

hub_api_version = 1
"""The plugin contract this package was built for (hub.HUB_API_VERSION)."""


@hookimpl
def hub_provider_types() -> list[type[OidcProvider]]:
    return [OidcProvider]


__all__ = ["OidcProvider", "hub_api_version", "hub_provider_types"]
