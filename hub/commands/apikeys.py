"""`hub api-keys create|list|revoke`: keys for back-end services calling the token API."""

from __future__ import annotations

import click
from sqlalchemy import select

from hub import apikeys
from hub.commands import runtime
from hub.db import write_transaction
from hub.models import ApiKey
from hub.parsing import MAX_ID


@click.group("api-keys")
def api_keys_group() -> None:
    """API keys for back-end services (the /api/v1 token API)."""


@api_keys_group.command("create")
@click.argument("name")
def create_command(name: str) -> None:
    """Create a key named NAME (who uses it). The key is printed once and never again."""
    rt = runtime()
    with write_transaction(rt.db) as session:
        created = apikeys.create(session, name)
        rt.audit.record(session, "api_key.create", "success", details={"api_key_id": created.row.id, "name": created.row.name})
    click.echo(f"API key {created.row.id} ({created.row.name}); store it now, it is not shown again:", err=True)
    click.echo(created.plaintext)


@api_keys_group.command("list")
def list_command() -> None:
    """List keys (never their secrets)."""
    rt = runtime()
    with rt.db.session() as session:
        for key in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            click.echo(f"{key.id}\t{key.name}\thub_{key.prefix}_…\t{state}\tlast used {used}")


@api_keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1, MAX_ID))
def revoke_command(key_id: int) -> None:
    """Revoke key KEY_ID: it stops working at once."""
    rt = runtime()
    with write_transaction(rt.db) as session:
        key = apikeys.revoke(session, key_id)
        rt.audit.record(session, "api_key.revoke", "success", details={"api_key_id": key.id, "name": key.name})
    click.echo(f"API key {key_id} revoked")
