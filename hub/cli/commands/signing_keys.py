"""`hub signing-keys rotate|retire|status`: the keys the hub signs ID and access tokens with."""

from __future__ import annotations

import click

from hub.cli.context import runtime
from hub.core.db import write_transaction
from hub.issuer import signing


@click.group("signing-keys")
def signing_keys_group() -> None:
    """The issuer's signing keys: published next/current/previous, rotated without restart."""


@signing_keys_group.command("rotate")
@click.option(
    "--alg", type=click.Choice(list(signing.ALGORITHMS)), default=signing.DEFAULT_ALG, show_default=True
)
def rotate_command(alg: str) -> None:
    """Promote the published next key to current; the old current stays published as previous."""
    rt = runtime()
    with write_transaction(rt.db) as session:
        promoted = signing.rotate(session, rt.vault.keyring, alg)
        rt.audit.record(session, "signing_key.rotate", "success", details={"kid": promoted.kid, "alg": alg})
    click.echo(f"{alg}: {promoted.kid} signs now (every process within {int(signing.CACHE_SECONDS)} s)")


@signing_keys_group.command("retire")
@click.option("--kid", help="Retire this previous key only (default: every previous key).")
def retire_command(kid: str | None) -> None:
    """Stop publishing previous keys once the grace period is over (tokens they signed stop verifying)."""
    rt = runtime()
    with write_transaction(rt.db) as session:
        retired = signing.retire(session, kid)
        rt.audit.record(
            session, "signing_key.retire", "success", details={"kids": [row.kid for row in retired]}
        )
    click.echo(f"retired {len(retired)} key(s): {', '.join(row.kid for row in retired) or 'none'}")


@signing_keys_group.command("status")
def status_command() -> None:
    """List the keys with their state and age (never private material)."""
    rt = runtime()
    with rt.db.session() as session:
        rows = signing.status(session)
    if not rows:
        click.echo("no signing keys yet (created on first use or by `hub signing-keys rotate`)")
    for row in rows:
        since = row.activated_at or row.created_at
        click.echo(
            f"{row.alg}\t{row.kid}\t{row.status}\tsince {since:%Y-%m-%d %H:%M}\tsealed with {row.ring_key_id}"
        )
