"""`hub scim token|list|revoke`: the bearer tokens a directory provisions a provider's users with."""

from __future__ import annotations

import json

import click

from hub.actions import scim_tokens
from hub.cli.context import OPERATOR, runtime
from hub.console import provisioning
from hub.console.provisioning import scim_url
from hub.core.parsing import MAX_ID


@click.group("scim")
def scim_group() -> None:
    """SCIM provisioning: tokens for a directory (Entra ID, Okta...) to push users and groups."""


@scim_group.command("token")
@click.argument("provider_id")
@click.option("--name", default=None, help="Who uses the token (default: '<provider> provisioning').")
@click.option("--json", "as_json", is_flag=True, help='Print {"url": ..., "token": ...} for scripts.')
def token_command(provider_id: str, name: str | None, as_json: bool) -> None:
    """Create a SCIM token for PROVIDER_ID's endpoint; it is printed once and never again."""
    rt = runtime()
    created = scim_tokens.create(
        rt.db, rt.audit, OPERATOR, provider_id, set(rt.registry.providers), name or f"{provider_id} provisioning"
    )
    url = scim_url(rt.settings.base_url, provider_id)
    if as_json:
        click.echo(json.dumps({"url": url, "token": created.plaintext}))
        return
    click.echo(f"SCIM token {created.row.id} ({created.row.name}); store it now, it is not shown again:", err=True)
    click.echo(f"Tenant URL:   {url}")
    click.echo(f"Secret Token: {created.plaintext}")


@scim_group.command("list")
def list_command() -> None:
    """List SCIM tokens (never their secrets)."""
    rt = runtime()
    with rt.db.session() as session:
        for token in provisioning.tokens(session):
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            click.echo(
                f"{token.id}\t{token.name}\t{token.provider_id}\tscim_{token.prefix}_…\t{state}"
                f"\tcreated {token.created_at:%Y-%m-%d %H:%M}\tlast used {used}"
            )


@scim_group.command("revoke")
@click.argument("token_id", type=click.IntRange(1, MAX_ID))
def revoke_command(token_id: int) -> None:
    """Revoke SCIM token TOKEN_ID: the directory's next push is refused."""
    rt = runtime()
    scim_tokens.revoke(rt.db, rt.audit, OPERATOR, token_id)
    click.echo(f"SCIM token {token_id} revoked")
