"""`hub demo` as a plugin (entry point group `identity_hub`): the Entra emulator, the hub and
two example applications on 127.0.0.1, one command, no tenant.

A package of its own, so that a provider plugin is only a provider: hub-provider-entra keeps
the `entra` provider type and its emulator (a test double), and this package runs them. It
contributes `hub demo` through the `hub_cli_commands` hook, so the core knows no demo by name.
"""

from __future__ import annotations

import click

from hub import hookimpl

hub_api_version = 1
"""The plugin contract this package was built for (hub.HUB_API_VERSION)."""


@hookimpl
def hub_cli_commands(cli: click.Group) -> None:
    """`hub demo`: imported only here, so loading the plugin costs no Flask app or emulator."""
    from hub_demo.command import demo_command

    cli.add_command(demo_command)


__all__ = ["hub_api_version", "hub_cli_commands"]
