"""`hub keys ...`: rotate the token key ring, re-seal what it protects, show and retire keys.

The work and its audit events are hub.actions.keyring's; this front door (`via: cli`) chooses
where the ring is persisted: development rewrites the instance's dev-secrets file, production
prints the new ring for the operator, who deploys it to every process before re-sealing.
"""

from __future__ import annotations

from typing import Any

import click

from hub.actions import keyring as keyring_actions
from hub.cli.context import ProgressBar, runtime
from hub.core.keyring import KeyRing
from hub.core.secrets import save_dev_token_keys

VIA = "cli"


def _dev_ring(rt: Any) -> bool:
    """Whether the ring came from the instance's development file (so the CLI may rewrite it)."""
    return "token_keys" in rt.keys.generated


@click.group("keys")
def keys_group() -> None:
    """Manage the token encryption key ring (token_keys / HUB_TOKEN_KEYS)."""


@keys_group.command("rotate")
@click.option("--batch-size", default=200, show_default=True, help="Token sets per transaction.")
def rotate_command(batch_size: int) -> None:
    """Add a new newest key; in development also re-seal every token set with it.

    In production the new HUB_TOKEN_KEYS value is printed on stdout (and nowhere else): deploy
    it to every hub process, restart them, then run `hub keys reencrypt`.
    """
    rt = runtime()
    if _dev_ring(rt) and rt.settings.production:
        raise click.ClickException(
            "HUB_TOKEN_KEYS is not set, and a production hub has no development key ring to "
            "rotate. For a first deployment, `hub secrets new` prints all three secrets."
        )
    if _dev_ring(rt):
        instance = rt.settings.instance_path
        with ProgressBar("Re-sealing token sets") as progress:
            ring_text = keyring_actions.rotate(
                rt.db,
                rt.audit,
                rt.keys.token_keys,
                progress,
                persist=lambda text: save_dev_token_keys(instance, text),
                via=VIA,
                batch_size=batch_size,
            )
        newest = KeyRing.parse(ring_text).newest_id
        click.echo(
            f"New key {newest} saved to the development secrets file and every readable token "
            "set re-sealed. Restart running hub processes so they use the new ring.",
            err=True,
        )
        return
    ring_text = keyring_actions.add_key(rt.db, rt.audit, rt.keys.token_keys, via=VIA)
    newest = KeyRing.parse(ring_text).newest_id
    click.echo(ring_text)
    click.echo(
        f"\nThe line above is the new HUB_TOKEN_KEYS value (new key {newest}, old keys kept).\n"
        "1. Set it on every hub process and restart them.\n"
        "2. Then run `hub keys reencrypt` with the new value to re-seal stored tokens.",
        err=True,
    )


@keys_group.command("reencrypt")
@click.option("--batch-size", default=200, show_default=True, help="Token sets per transaction.")
def reencrypt_command(batch_size: int) -> None:
    """Re-seal every token set not yet under the ring's newest key (safe to re-run)."""
    rt = runtime()
    keyring = KeyRing.parse(rt.keys.token_keys)
    with ProgressBar("Re-sealing token sets") as progress:
        report = keyring_actions.reseal(rt.db, rt.audit, keyring, progress, via=VIA, batch_size=batch_size)
    click.echo(f"{report.rewrapped} token sets re-sealed with {report.newest_key_id}.", err=True)
    if report.unreadable:
        ids = ", ".join(str(token_set_id) for token_set_id in report.unreadable[:20])
        click.echo(
            f"{len(report.unreadable)} token sets could not be opened and were left as they are "
            f"(ids {ids}); their users must sign in again, or a missing key must be added back.",
            err=True,
        )
        raise SystemExit(1)


@keys_group.command("status")
def status_command() -> None:
    """List the ring's key ids (never the keys) and how many token sets each one seals."""
    rt = runtime()
    keyring = KeyRing.parse(rt.keys.token_keys)
    usage = keyring_actions.key_usage(rt.db)
    for key_id in keyring.key_ids:
        marker = " (newest: encrypts)" if key_id == keyring.newest_id else ""
        click.echo(f"{key_id}{marker}: {usage.get(key_id, 0)} token sets")
    for key_id in sorted(set(usage) - set(keyring.key_ids)):
        click.echo(f"{key_id} (MISSING from the ring): {usage[key_id]} token sets unreadable")


@keys_group.command("retire")
@click.argument("key_id")
def retire_command(key_id: str) -> None:
    """Remove an old key from the ring once no token set uses it."""
    rt = runtime()
    try:
        ring_text = keyring_actions.retire(rt.db, rt.audit, rt.keys.token_keys, key_id, via=VIA)
    except Exception as error:
        raise click.ClickException(str(error)) from None
    if _dev_ring(rt):
        save_dev_token_keys(rt.settings.instance_path, ring_text)
        click.echo(f"Key {key_id} removed from the development secrets file.", err=True)
        return
    click.echo(ring_text)
    click.echo(
        f"\nThe line above is HUB_TOKEN_KEYS without key {key_id}; deploy it to every process.",
        err=True,
    )
