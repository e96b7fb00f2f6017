"""`hub demo`: the Entra emulator, the hub and two example applications side by side on
127.0.0.1, on SQLite, one command.

Contributed to the `hub` CLI through the `hub_cli_commands` hook (hub_demo), so the core knows
neither the demo nor Entra. Two tenants of the emulator (hub_entra.emulator) are configured as
two providers, to show providers of one type side by side; the demo database is a file of its
own in the instance folder. The two example applications (hub_demo.example_app) are registered
with the hub at every start, as first-party applications with back-channel logout: sign in to
one, open the other and you are in without signing in again; sign out at the hub and both end
their sessions. The emulator's provisioning service is connected to the hub's SCIM endpoint for
Contoso with a token made at every start, so a leaver can be pushed as well as pulled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from hub.serving import LoopbackServer
from hub_demo.example_app import create_example_app
from hub_entra.emulator.directory import (
    CONTOSO_TENANT_ID,
    DEMO_REDIRECT_URIS,
    FABRIKAM_TENANT_ID,
    demo_clients,
)
from hub_entra.emulator.server import EntraEmulator


def demo_providers(emulator: EntraEmulator, base_url: str) -> dict[str, dict[str, Any]]:
    """Two `entra` providers pointed at the emulator: Contoso (id `entra`) and Fabrikam."""
    return {
        "entra": {
            "type": "entra",
            "name": "Microsoft",
            **emulator.provider_settings(CONTOSO_TENANT_ID),
            "redirect_uri": f"{base_url}/callback",
        },
        "fabrikam": {
            "type": "entra",
            "name": "Fabrikam",
            "button_label": "Sign in with Fabrikam (second tenant)",
            **emulator.provider_settings(FABRIKAM_TENANT_ID),
            "redirect_uri": f"{base_url}/auth/fabrikam/callback",
        },
    }


@dataclass(frozen=True)
class ExampleApp:
    """One example application of the demo: its name, server and hub registration."""

    name: str
    slug: str
    server: LoopbackServer

    @property
    def base_url(self) -> str:
        return self.server.base_url


EXAMPLE_SCOPE = "openid profile email roles provider_tokens"


def register_example_app(rt: Any, name: str, base_url: str) -> tuple[str, str]:
    """Register (or refresh) a demo application through the issuer's registry; returns its
    client id and a client secret. Idempotent: an application of that name is kept (with the
    grants people gave it) and gets a new secret and this run's URIs, since its port may
    differ from the last run's (`--example-port 0`)."""
    from hub.core.db import write_transaction
    from hub.issuer import applications

    redirect_uris = [f"{base_url}/callback"]
    logout_uris = [f"{base_url}/"]
    backchannel_uri = f"{base_url}/backchannel-logout"
    with write_transaction(rt.db) as session:
        existing = next((app for app in applications.list_all(session) if app.name == name), None)
        if existing is None:
            created = applications.create(
                session,
                name,
                redirect_uris,
                first_party=True,
                post_logout_redirect_uris=logout_uris,
                backchannel_logout_uri=backchannel_uri,
            )
            event = "application.create"
        else:
            existing.redirect_uris = {"uris": [applications.validate_redirect_uri(u, public=False) for u in redirect_uris]}
            existing.post_logout_redirect_uris = {"uris": logout_uris}
            existing.backchannel_logout_uri = applications.validate_redirect_uri(backchannel_uri, public=False)
            existing.disabled_at = None
            created = applications.rotate_secret(session, existing.client_id)
            event = "application.rotate_secret"
        application = created.application
        rt.audit.record(
            session,
            event,
            "success",
            details={"client_id": application.client_id, "application": application.name, "via": "hub demo"},
        )
    assert created.client_secret is not None
    return application.client_id, created.client_secret


SCIM_TOKEN_NAME = "Entra emulator provisioning"  # noqa: S105 - the token's name, not a secret


def connect_provisioning(rt: Any, emulator: EntraEmulator, base_url: str) -> None:
    """Create a SCIM token for Contoso's provider (`entra`) through the action `hub scim token
    entra --json` calls, and paste it with the endpoint's URL into the emulator's provisioning
    service, as an admin pastes them into Entra. The last run's token is revoked first (the
    emulator forgot it). The token goes to the emulator only: never to the console or a log."""
    from hub.actions import scim_tokens
    from hub.cli.commands import OPERATOR
    from hub.console.provisioning import scim_url, tokens

    with rt.db.session() as session:
        stale = [t.id for t in tokens(session) if t.provider_id == "entra" and t.name == SCIM_TOKEN_NAME and t.revoked_at is None]
    for token_id in stale:
        scim_tokens.revoke(rt.db, rt.audit, OPERATOR, token_id)
    created = scim_tokens.create(rt.db, rt.audit, OPERATOR, "entra", set(rt.registry.providers), SCIM_TOKEN_NAME)
    emulator.connect_scim(scim_url(base_url, "entra"), created.plaintext, CONTOSO_TENANT_ID)


@click.command("demo")
@click.option("--port", default=5001, show_default=True, type=int, help="The hub's port (0: any free port).")
@click.option(
    "--emulator-port", default=5002, show_default=True, type=int, help="The emulator's port (0: any)."
)
@click.option(
    "--example-port", default=5003, show_default=True, type=int, help="The first example application's port (0: any)."
)
@click.option(
    "--second-example-port",
    default=5004,
    show_default=True,
    type=int,
    help="The second example application's port, to show single sign-on (0: any).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Fill the demo database with N fake accounts first.",
)
def demo_command(port: int, emulator_port: int, example_port: int, second_example_port: int, seed: int) -> None:
    """Run the hub with a bundled Entra ID emulator: no tenant needed (loopback only)."""
    from hub.app import create_app
    from hub.core.config import load_settings
    from hub.plugin.manager import load_plugins

    server = LoopbackServer(port=port, name="hub-demo")  # bound first: the URLs need the port
    base_url = server.base_url
    redirect_uris = (*DEMO_REDIRECT_URIS, f"{base_url}/callback", f"{base_url}/auth/fabrikam/callback")
    examples = [
        ExampleApp("Example app A", "example_a", LoopbackServer(port=example_port, name="example-app-a")),
        ExampleApp("Example app B", "example_b", LoopbackServer(port=second_example_port, name="example-app-b")),
    ]
    emulator = EntraEmulator(clients=demo_clients(redirect_uris), port=emulator_port).start()
    try:
        base = load_settings()
        settings = load_settings(
            overrides={
                "base_url": base_url,
                "database_url": f"sqlite:///{base.instance_path / 'demo.sqlite3'}",
                "providers": demo_providers(emulator, base_url),
                # A leaver disabled on the emulator's people page is signed out everywhere
                # within about this many seconds (issue 19), so a visitor can watch it.
                "upstream_check_seconds": 20,
            }
        )
        app = create_app(settings=settings, plugins=load_plugins(settings.plugins), migrate_database=True)
        server.app = app
        connect_provisioning(app.extensions["hub"], emulator, base_url)
        for example in examples:
            client_id, client_secret = register_example_app(app.extensions["hub"], example.name, example.base_url)
            example.server.app = create_example_app(
                issuer=base_url,
                client_id=client_id,
                client_secret=client_secret,
                base_url=example.base_url,
                name=example.name,
                slug=example.slug,
                scope=EXAMPLE_SCOPE,
            )
            example.server.start()
        if seed:
            _seed(app, seed)
        _banner(base_url, emulator, examples)
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        server.stop()
        for example in examples:
            example.server.stop()
        emulator.stop()


def _seed(app: Any, count: int) -> None:
    from hub.cli.commands import ProgressBar
    from hub.cli.seed import seed

    with ProgressBar(f"Seeding {count:,} linked accounts") as progress:
        report = seed(app.extensions["hub"], count, progress=progress)
    click.echo(f"added {report.users:,} users and {report.linked_accounts:,} linked accounts in {report.seconds:.1f} s")


def _banner(base_url: str, emulator: EntraEmulator, examples: list[ExampleApp]) -> None:
    click.echo(f"Identity Hub demo: open {base_url}/ in your browser.")
    click.echo(f"Entra ID emulator at {emulator.base_url} (tenants Contoso and Fabrikam).")
    first, second = examples
    click.echo("Applications that sign in through the hub (OpenID Connect, back-channel logout):")
    click.echo(f"  {first.name} at {first.base_url}/  (sign in here first)")
    click.echo(f"  {second.name} at {second.base_url}/  (then here: single sign-on, no second sign-in)")
    click.echo("  Sign out at the hub or in either app: both apps end their sessions.")
    click.echo(f"  Leavers, at {emulator.base_url}/_emulator/people (Contoso's people):")
    click.echo("    Disable: the hub's re-check of the account finds it; within about 30 s both apps sign them out.")
    click.echo('    "Deprovision (SCIM)": pushed to the hub (SCIM) at once; both apps sign them out now, not 30 s later.')
    click.echo('    "Provision (SCIM)" lets them back in.')
    click.echo("Demo people (pick one on the emulator's sign-in page):")
    for tenant in emulator.tenants.values():
        for user in tenant.users:
            role = "admin (app role Hub.Admin)" if "Hub.Admin" in user.app_roles else "user"
            click.echo(f"  {user.display_name:<14} {user.email:<28} {tenant.name:<9} {role}")
    click.echo("Press Ctrl+C to stop.", err=True)
