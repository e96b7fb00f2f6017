"""`hub plugin new NAME [--oauth2 | --oidc]`: write a provider plugin package to start from."""

from __future__ import annotations

from pathlib import Path

import click

from hub.plugin import scaffold


@click.group("plugin")
def plugin_group() -> None:
    """Write provider plugins."""


@plugin_group.command("new")
@click.argument("name")
@click.option("--oauth2", "kind", flag_value="oauth2", default=True, help="Plain OAuth 2.0 with a profile endpoint (default).")
@click.option("--oidc", "kind", flag_value="oidc", help="OpenID Connect (discovery, ID tokens).")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package folder.",
)
def new_command(name: str, kind: str, directory: Path) -> None:
    """Write an installable plugin package hub-provider-NAME: the provider class, settings
    validation, the conformance kit and an end-to-end test against hub.plugin.testing's fake
    server (they pass as written), and a README saying what to change."""
    root = scaffold.write_plugin(name, directory, kind)
    click.echo(f"wrote {root} ({kind}); next: install it with its test extra and run its tests (see {root / 'README.md'})")
