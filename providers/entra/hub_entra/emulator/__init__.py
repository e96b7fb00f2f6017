"""A local Microsoft Entra ID v2.0 + Graph emulator: a real HTTP server for demos and tests.

    from hub_entra.emulator import EntraEmulator

    with EntraEmulator() as entra:
        entra.auto_sign_in = "alice@contoso.example"
        settings = entra.provider_settings()      # an `entra` provider's settings

Run standalone with `python -m hub_entra.emulator --port 5002`.
"""

from hub_entra.emulator.directory import (
    CONSUMERS_TENANT_ID,
    CONTOSO_TENANT_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REDIRECT_URIS,
    FABRIKAM_TENANT_ID,
    Client,
    Tenant,
    User,
    demo_clients,
    demo_tenants,
)
from hub_entra.emulator.keys import CertifiedKey
from hub_entra.emulator.server import ENDPOINTS, MISBEHAVIOURS, EntraEmulator

__all__ = [
    "CONSUMERS_TENANT_ID",
    "CONTOSO_TENANT_ID",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_REDIRECT_URIS",
    "ENDPOINTS",
    "FABRIKAM_TENANT_ID",
    "MISBEHAVIOURS",
    "CertifiedKey",
    "Client",
    "EntraEmulator",
    "Tenant",
    "User",
    "demo_clients",
    "demo_tenants",
]
