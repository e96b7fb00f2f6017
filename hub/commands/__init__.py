"""Command-line groups for the vault and the audit log, attached to the root `hub` CLI by hub.cli.

Commands stay thin: they take the runtime from `ctx.obj` (hub.runtime.Runtime), call the plain
functions in hub.vault and hub.audit, and show progress on stderr so stdout stays clean for
what an operator pipes or copies (a key ring, an export, a checkpoint).
"""

from __future__ import annotations

import sys
from typing import Any

import click

__all__ = ["ProgressBar", "audit_group", "keys_group", "runtime"]


def runtime() -> Any:
    """The hub runtime the root CLI put on the click context."""
    obj = click.get_current_context().obj
    if obj is None or not hasattr(obj, "db"):
        raise click.UsageError("no hub runtime: run this through the `hub` command")
    return obj


class ProgressBar:
    """A `Progress` callback (done, total) drawing a click progress bar on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._position = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=max(total, 1), label=self.label, file=sys.stderr
            )
            self._bar.__enter__()
        self._bar.update(max(done - self._position, 0))
        self._position = done

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


# Imported last: the command modules use the helpers above.
from hub.commands.audit import audit_group  # noqa: E402
from hub.commands.keys import keys_group  # noqa: E402
