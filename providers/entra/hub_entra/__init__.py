"""Microsoft Entra ID provider type for Identity Hub (entry point group `identity_hub`).

Install `hub-provider-entra` and configure a provider with `type = "entra"` (see
docs/entra.md). A tutorial-style `.env` with TENANT_ID, CLIENT_ID, CLIENT_SECRET (and
REDIRECT_URI) also works without a hub.toml, through `hub_default_providers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub import hookimpl
from hub_entra.provider import EntraProvider

hub_api_version = 1
"""The plugin contract this package was built for (hub.HUB_API_VERSION)."""


@hookimpl
def hub_provider_types() -> list[type[EntraProvider]]:
    return [EntraProvider]


@hookimpl
def hub_default_providers(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """One `entra` provider from TENANT_ID, CLIENT_ID, CLIENT_SECRET (+ REDIRECT_URI and, for
    common/organizations, ALLOWED_TENANTS as a comma-separated list of GUIDs)."""
    required = ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET")
    if not all(environ.get(name) for name in required):
        return []
    provider: dict[str, Any] = {
        "id": "entra",
        "type": "entra",
        "name": "Microsoft",
        "tenant": environ["TENANT_ID"],
        "client_id": environ["CLIENT_ID"],
        "client_secret": environ["CLIENT_SECRET"],
    }
    if environ.get("REDIRECT_URI"):
        provider["redirect_uri"] = environ["REDIRECT_URI"]
    if environ.get("ALLOWED_TENANTS"):
        provider["allowed_tenants"] = [
            tenant.strip() for tenant in environ["ALLOWED_TENANTS"].split(",") if tenant.strip()
        ]
    return [provider]


__all__ = ["EntraProvider", "hub_api_version", "hub_default_providers", "hub_provider_types"]
