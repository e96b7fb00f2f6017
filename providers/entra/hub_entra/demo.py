"""`hub demo`: the Entra emulator and the hub side by side on 127.0.0.1, on SQLite, one command.

Contributed to the `hub` CLI through the `hub_cli_commands` hook, so the core knows nothing of
Entra. Two tenants of the emulator are configured as two providers, to show providers of one
type side by side; the demo database is a file of its own in the instance folder.
"""

from __future__ import annotations

from typing import Any

import click

from hub.serving import LoopbackServer
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


@click.command("demo")
@click.option("--port", default=5001, show_default=True, type=int, help="The hub's port (0: any free port).")
@click.option(
    "--emulator-port", default=5002, show_default=True, type=int, help="The emulator's port (0: any)."
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Fill the demo database with N fake accounts first.",
)
def demo_command(port: int, emulator_port: int, seed: int) -> None:
    """Run the hub with a bundled Entra ID emulator: no tenant needed (loopback only)."""
    from hub.app import create_app
    from hub.config import load_settings
    from hub.plugins import load_plugins

    server = LoopbackServer(port=port, name="hub-demo")  # bound first: the URLs need the port
    base_url = server.base_url
    redirect_uris = (*DEMO_REDIRECT_URIS, f"{base_url}/callback", f"{base_url}/auth/fabrikam/callback")
    emulator = EntraEmulator(clients=demo_clients(redirect_uris), port=emulator_port).start()
    try:
        base = load_settings()
        settings = load_settings(
            overrides={
                "base_url": base_url,
                "database_url": f"sqlite:///{base.instance_path / 'demo.sqlite3'}",
                "providers": demo_providers(emulator, base_url),
            }
        )
        app = create_app(settings=settings, plugins=load_plugins(settings.plugins), migrate_database=True)
        server.app = app
        if seed:
            _seed(app, seed)
        _banner(base_url, emulator)
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        server.stop()
        emulator.stop()


def _seed(app: Any, count: int) -> None:
    from hub.commands import ProgressBar
    from hub.seed import seed

    with ProgressBar(f"Seeding {count:,} linked accounts") as progress:
        report = seed(app.extensions["hub"], count, progress=progress)
    click.echo(f"added {report.users:,} users and {report.linked_accounts:,} linked accounts in {report.seconds:.1f} s")


def _banner(base_url: str, emulator: EntraEmulator) -> None:
    click.echo(f"Identity Hub demo: open {base_url}/ in your browser.")
    click.echo(f"Entra ID emulator at {emulator.base_url} (tenants Contoso and Fabrikam).")
    click.echo("Demo people (pick one on the emulator's sign-in page):")
    for tenant in emulator.tenants.values():
        for user in tenant.users:
            role = "admin (app role Hub.Admin)" if "Hub.Admin" in user.app_roles else "user"
            click.echo(f"  {user.display_name:<14} {user.email:<28} {tenant.name:<9} {role}")
    click.echo("Press Ctrl+C to stop.", err=True)
