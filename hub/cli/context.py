"""What every command runs on, and the one way a command (the core's and plugins') reaches the
runtime: `runtime()`, re-exported as `hub.cli.commands.runtime()`.

Commands stay thin: they take the runtime from `runtime()`, call the plain functions in
hub.actions, hub.core.audit, ... and show progress on stderr so stdout stays clean for what an
operator pipes or copies (a key ring, an export, a checkpoint). No command imports hub.cli.main.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from hub.actions.audited import Actor
from hub.core.config import Settings, load_settings
from hub.core.errors import ConfigError
from hub.plugin.manager import Plugins
from hub.runtime import Runtime

__all__ = ["OPERATOR", "LazyRuntime", "ProgressBar", "runtime", "settings"]


OPERATOR = Actor(None, "cli")
"""Who changes things from the shell: no signed-in person (actor_user_id None), via "cli"."""


class LazyRuntime:
    """The click context's `obj`: the Runtime, built on first use so `hub --help` needs no
    valid configuration and `hub serve` can check settings before opening the database."""

    def __init__(self, plugins: Plugins | None = None, settings: Settings | None = None) -> None:
        self._plugins = plugins
        self._settings = settings
        self._runtime: Runtime | None = None
        self._schema_current = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.load(self.settings, self._plugins)
        return self._runtime

    def use_settings(self, settings: Settings) -> None:
        """Replace the settings before the runtime is built (`hub serve` derives base_url)."""
        if self._runtime is not None:
            raise RuntimeError("the runtime is already built from the previous settings")
        self._settings = settings

    def check_schema(self) -> None:
        """Raise ConfigError naming `hub db upgrade` unless the database schema is current."""
        if self._schema_current:
            return
        from sqlalchemy.exc import OperationalError

        from hub.core import migrate

        try:
            problem = migrate.pending_message(self.runtime.db)
        except OperationalError as error:
            raise ConfigError(
                f"database_url: cannot reach the database ({type(error.orig).__name__ if error.orig else 'error'}); "
                "check the address and that the server runs"
            ) from None
        if problem:
            raise ConfigError(f"database_url: {problem}")
        self._schema_current = True


def runtime(*, current_schema: bool = True) -> Runtime:
    """The hub runtime of the running `hub` command (built on first use).

    Unless `current_schema=False` (the `hub db` commands, `hub providers`), the database must
    be at the migrations' head first: every command on an unmigrated database says "run
    `hub db upgrade` first" from here, instead of a SQLAlchemy traceback half-way through.

    Tests may invoke a command group with `obj=` a Runtime (or any object with `db`) instead
    of going through `hub`.
    """
    obj = click.get_current_context().obj
    if isinstance(obj, LazyRuntime):
        if current_schema:
            obj.check_schema()
        return obj.runtime
    if obj is None or not hasattr(obj, "db"):
        raise click.UsageError("no hub runtime: run this through the `hub` command")
    return obj  # type: ignore[no-any-return]


def settings() -> Settings:
    """The settings of the running `hub` command, without opening the database."""
    obj = click.get_current_context().obj
    if isinstance(obj, LazyRuntime):
        return obj.settings
    return runtime().settings


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
