"""`hub audit ...`: verify the chain, export events, write signed checkpoints, apply retention."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from hub.cli.context import ProgressBar, runtime
from hub.core import audit
from hub.core.models import utcnow
from hub.core.parsing import MAX_ID

_DATETIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"])


def _utc(value: datetime | None) -> datetime | None:
    """Command-line times without a zone are UTC, like every time the audit log stores."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _notify(rt: Any) -> Any:
    audit_log = getattr(rt, "audit", None)
    return audit_log.notify if audit_log is not None else None


@click.group("audit")
def audit_group() -> None:
    """Verify, export and prune the tamper-evident audit log."""


def _chain_pending(rt: Any) -> int:
    """Link what the outbox holds first, so verify, checkpoint and export see every event."""
    return audit.chain_all(rt.db, rt.keys.audit_key)


@audit_group.command("chain")
def chain_command() -> None:
    """Link the audit outbox's pending events into the chain now (the serving processes'
    chainer does this every audit_chain_interval_ms; this takes over when none runs)."""
    rt = runtime()
    click.echo(f"{_chain_pending(rt)} pending audit events chained.")


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("r"),
    help="A checkpoint written by `hub audit checkpoint`, to detect deleted newest events.",
)
def verify_command(checkpoint_file: Any) -> None:
    """Check every event's MAC and the chain's continuity; exit 1 naming the first bad seq."""
    rt = runtime()
    checkpoint = None
    if checkpoint_file is not None:
        try:
            checkpoint = json.load(checkpoint_file)
        except ValueError:
            raise click.BadParameter("not JSON", param_hint="--checkpoint") from None
    chained = _chain_pending(rt)
    if chained:
        click.echo(f"{chained} pending audit events chained first.", err=True)
    with rt.db.session() as session, ProgressBar("Verifying audit events") as progress:
        result = audit.verify(session, rt.keys.audit_key, progress, checkpoint)
    if result.ok:
        span = f" (seq {result.first_seq}..{result.last_seq})" if result.checked else ""
        against = " and the checkpoint" if checkpoint is not None else ""
        click.echo(f"OK: {result.checked} audit events verified{span}{against}.")
        return
    where = f"at seq {result.first_bad_seq}" if result.first_bad_seq is not None else ""
    click.echo(f"FAILED {where}: {result.problem}", err=True)
    click.echo(f"{result.checked} events verified before the problem.", err=True)
    raise SystemExit(1)


@audit_group.command("export")
@click.option("--format", "format_", type=click.Choice(audit.EXPORT_FORMATS), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="File to write; - for stdout.")
@click.option("--type", "types", multiple=True, help="Event type (repeatable).")
@click.option("--outcome", type=click.Choice(["success", "failure"]))
@click.option("--user", "user_id", type=click.IntRange(1, MAX_ID), help="User id, as actor or subject.")
@click.option("--provider", "provider_id", help="Provider id.")
@click.option("--since", type=_DATETIME, help="From this UTC time (inclusive).")
@click.option("--until", type=_DATETIME, help="Up to this UTC time (exclusive).")
def export_command(
    format_: str,
    output: str,
    types: tuple[str, ...],
    outcome: str | None,
    user_id: int | None,
    provider_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Export audit events as JSON lines or CSV, oldest first, MACs included."""
    rt = runtime()
    filters = audit.ExportFilters(
        types=types, outcome=outcome, user_id=user_id, provider_id=provider_id,
        since=_utc(since), until=_utc(until),
    )
    _chain_pending(rt)
    with rt.db.session() as session, ProgressBar("Exporting audit events") as progress:
        lines = audit.export(session, filters, format_, progress)
        if output == "-":
            sys.stdout.writelines(lines)
            sys.stdout.flush()
        else:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                handle.writelines(lines)


@audit_group.command("checkpoint")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="File to write; - for stdout. Keep it off the database host.")
def checkpoint_command(output: str) -> None:
    """Write a signed checkpoint of the chain's head (seq and MAC) as JSON."""
    rt = runtime()
    _chain_pending(rt)
    with rt.db.session() as session:
        checkpoint = audit.make_checkpoint(session, rt.keys.audit_key)
    text = json.dumps(checkpoint, indent=2) + "\n"
    if output == "-":
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"Checkpoint at seq {checkpoint['seq']} written to {output}.", err=True)


@audit_group.command("prune")
@click.option("--older-than-days", type=click.IntRange(min=1, max=36500),
              help="Delete events older than this; default: audit_retention_days.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def prune_command(older_than_days: int | None, yes: bool) -> None:
    """Apply retention: verify the chain, then delete old events and seal the deletion."""
    rt = runtime()
    days = older_than_days or rt.settings.audit_retention_days
    if not days:
        raise click.UsageError("audit_retention_days is 0 (keep forever); pass --older-than-days")
    cutoff = utcnow() - timedelta(days=days)
    _chain_pending(rt)
    with rt.db.session() as session, ProgressBar("Verifying audit events") as progress:
        result = audit.verify(session, rt.keys.audit_key, progress)
    if not result.ok:
        # Pruning would delete the evidence: refuse until someone has looked.
        raise click.ClickException(
            f"the audit chain does not verify (seq {result.first_bad_seq}: {result.problem}); "
            "nothing was pruned"
        )
    if not yes:
        click.confirm(f"Delete audit events older than {cutoff:%Y-%m-%d %H:%M} UTC?", abort=True)
    pruned = audit.prune(rt.db, rt.keys.audit_key, cutoff, notify=_notify(rt))
    if pruned.pruned:
        click.echo(
            f"Pruned {pruned.pruned} events (seq {pruned.first_pruned_seq}.."
            f"{pruned.last_pruned_seq}); sealed by event {pruned.seal_seq}.",
            err=True,
        )
    else:
        click.echo("Nothing older than the cutoff.", err=True)
