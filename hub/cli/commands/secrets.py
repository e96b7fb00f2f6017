"""`hub secrets new`: fresh values for the hub's three secrets, for a first deployment.

Printed on stdout as environment lines (and nowhere else: nothing is written to disk or the
database), so an operator pipes them straight into a secret store. Development needs none of
this: its secrets are generated once into the instance folder (hub.core.secrets).
"""

from __future__ import annotations

import click

from hub.core.secrets import SECRET_VARIABLES, new_secrets


@click.group("secrets")
def secrets_group() -> None:
    """The hub's own secrets: HUB_SECRET_KEY, HUB_TOKEN_KEYS and HUB_AUDIT_KEY."""


@secrets_group.command("new")
def new_command() -> None:
    """Print fresh values for all three secrets as NAME=value lines.

    Store them in your secret store and give them to every hub process. Keep HUB_AUDIT_KEY
    away from the database host. Rotate the token keys later with `hub keys rotate`.
    """
    values = new_secrets()
    for name, variable in SECRET_VARIABLES.items():
        click.echo(f"{variable}={values[name]}")
    click.echo(
        "\nThe lines above are new secrets for a new deployment; they are printed only here.\n"
        "Changing HUB_SECRET_KEY signs everyone out; never replace HUB_TOKEN_KEYS or HUB_AUDIT_KEY "
        "of a running hub (use `hub keys rotate` for the token keys).",
        err=True,
    )
