"""The emulator's directory: tenants, their people and app registrations, plus the demo set.

The demo values are fixed so that a hub configured once for the emulator keeps working
across restarts. They are public on purpose: the emulator is for demos and tests only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONTOSO_TENANT_ID = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
FABRIKAM_TENANT_ID = "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e"
DEMO_CLIENT_ID = "5a7c9e1b-3d5f-4a6b-8c9d-0e1f2a3b4c5d"
DEMO_CLIENT_SECRET = "emulator-demo-secret"  # noqa: S105 - a public demo value
DEMO_REDIRECT_URIS = (
    "http://localhost:5001/callback",
    "http://127.0.0.1:5001/callback",
    "http://localhost:5000/callback",
    "http://127.0.0.1:5000/callback",
)
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"


@dataclass(frozen=True)
class User:
    """A person in one tenant. `oid` is what Graph calls `id`."""

    email: str
    """The user principal name; also `mail` unless `mail` is set."""
    display_name: str
    oid: str
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    app_roles: tuple[str, ...] = ()
    """App role values assigned to this person (the `roles` claim)."""
    mail: str | None = None
    groups: tuple[str, ...] = ()
    groups_overage: bool = False
    """Emit `_claim_names`/`_claim_sources` instead of `groups`, as Entra does past 200."""

    @property
    def mail_address(self) -> str:
        return self.mail or self.email


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    domain: str
    users: tuple[User, ...] = ()


@dataclass(frozen=True)
class Client:
    """An app registration. `multi_tenant` apps may sign in people from every tenant."""

    client_id: str
    name: str
    home_tenant: str
    redirect_uris: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)
    certificates_pem: tuple[bytes, ...] = field(default=(), repr=False)
    """Public certificates registered for the certificate credential."""
    multi_tenant: bool = True
    frontchannel_logout_url: str | None = None
    optional_id_token_claims: tuple[str, ...] = ("email", "xms_edov")
    """Token configuration's optional ID-token claims (docs/entra.md asks for these two):
    `email` even without the `email` scope, and `xms_edov`, true when the address's domain is
    the person's own tenant's."""


def demo_tenants() -> list[Tenant]:
    """Contoso (alice the admin, bob, dave with too many groups) and Fabrikam (carol, and
    mallory whose unverified mail claims to be alice's address, for nOAuth tests)."""
    contoso = Tenant(
        id=CONTOSO_TENANT_ID,
        name="Contoso",
        domain="contoso.example",
        users=(
            User(
                email="alice@contoso.example",
                display_name="Alice Adams",
                oid="a11ce000-0000-4000-8000-00000000a11c",
                given_name="Alice",
                surname="Adams",
                job_title="IT Administrator",
                app_roles=("Hub.Admin",),
            ),
            User(
                email="bob@contoso.example",
                display_name="Bob Brown",
                oid="b0b00000-0000-4000-8000-000000000b0b",
                given_name="Bob",
                surname="Brown",
                job_title="Engineer",
            ),
            User(
                email="dave@contoso.example",
                display_name="Dave Davis",
                oid="da7e0000-0000-4000-8000-00000000da7e",
                given_name="Dave",
                surname="Davis",
                groups_overage=True,
            ),
        ),
    )
    fabrikam = Tenant(
        id=FABRIKAM_TENANT_ID,
        name="Fabrikam",
        domain="fabrikam.example",
        users=(
            User(
                email="carol@fabrikam.example",
                display_name="Carol Chen",
                oid="ca201000-0000-4000-8000-0000000ca201",
                given_name="Carol",
                surname="Chen",
                app_roles=("Hub.Admin",),
            ),
            User(
                email="mallory@fabrikam.example",
                display_name="Mallory Moss",
                oid="3a1101e0-0000-4000-8000-0000003a1101",
                given_name="Mallory",
                surname="Moss",
                mail="alice@contoso.example",
            ),
        ),
    )
    return [contoso, fabrikam]


def demo_clients(redirect_uris: tuple[str, ...] = DEMO_REDIRECT_URIS) -> list[Client]:
    return [
        Client(
            client_id=DEMO_CLIENT_ID,
            name="Identity Hub (demo)",
            home_tenant=CONTOSO_TENANT_ID,
            redirect_uris=redirect_uris,
            secrets=(DEMO_CLIENT_SECRET,),
            multi_tenant=True,
        )
    ]
