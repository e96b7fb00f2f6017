"""`hub api-keys create|list|revoke`: keys for back-end services calling the token API."""

from __future__ import annotations

from datetime import timedelta

import click
from sqlalchemy import select

from hub.actions import api_keys
from hub.cli.context import OPERATOR, runtime
from hub.core import apikeys
from hub.core.models import ApiKey, utcnow
from hub.core.parsing import MAX_ID


@click.group("api-keys")
def api_keys_group() -> None:
    """API keys for back-end services (the /api/v1 token API)."""


@api_keys_group.command("create")
@click.argument("name")
@click.option(
    "--provider", "providers", multiple=True, metavar="ID",
    help="Limit the key to this provider's tokens (repeat for several). Default: every provider.",
)
@click.option("--expires-in-days", type=click.IntRange(1, 3650), help="The key stops working after this many days.")
def create_command(name: str, providers: tuple[str, ...], expires_in_days: int | None) -> None:
    """Create a key named NAME (who uses it). The key is printed once and never again."""
    rt = runtime()
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    created = api_keys.create(rt.db, rt.audit, OPERATOR, name, providers=providers or None, expires_at=expires_at)
    click.echo(f"API key {created.row.id} ({created.row.name}); store it now, it is not shown again:", err=True)
    click.echo(created.plaintext)


@api_keys_group.command("list")
def list_command() -> None:
    """List keys (never their secrets)."""
    rt = runtime()
    with rt.db.session() as session:
        for key in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            state = apikeys.state(key)
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            expires = f"expires {key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "no expiry"
            click.echo(
                f"{key.id}\t{key.name}\thub_{key.prefix}_…\t{state}\t{apikeys.describe_scope(key)}\t{expires}\tlast used {used}"
            )


@api_keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1, MAX_ID))
def revoke_command(key_id: int) -> None:
    """Revoke key KEY_ID: it stops working at once."""
    rt = runtime()
    api_keys.revoke(rt.db, rt.audit, OPERATOR, key_id)
    click.echo(f"API key {key_id} revoked")


api_keys_alias = click.Group(
    "apikeys", commands=api_keys_group.commands, hidden=True, help="The same as `hub api-keys` (a hidden alias)."
)
"""`hub apikeys ...`, as some documents spell it; the same commands, not listed in --help."""
