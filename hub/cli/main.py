"""The `hub` command line: serve, db, providers, admin, audit, keys, and plugins' commands."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from hub.cli.commands import LazyRuntime, runtime
from hub.cli.commands import settings as current_settings
from hub.core import migrate
from hub.core.config import Settings, load_settings, served_base_url
from hub.core.errors import ConfigError, HubError
from hub.plugin.manager import Plugins, load_plugins

DEFAULT_PORT = 5001


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Identity Hub: sign-in with Microsoft Entra ID and other providers, linked accounts,
    encrypted tokens and a tamper-evident audit log.

    Configuration: hub.toml (HUB_CONFIG), HUB_* environment variables and a .env file.
    """


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option("--production", is_flag=True, help="Refuse unsafe settings and serve with gunicorn.")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers (production).")
def serve(host: str, port: int, production: bool, workers: int) -> None:
    """Serve the hub over HTTP.

    Without a configured base_url (HUB_BASE_URL), it is derived from --host and --port, so
    provider callbacks point at this server; production requires it to be configured.
    """
    settings = current_settings()
    production = production or settings.production
    from hub.web.app import create_app

    if production and not settings.production:  # the flag means HUB_PRODUCTION: the same checks
        settings = replace(settings, production=True)
    elif "base_url" not in settings.explicit and not production:
        settings = replace(settings, base_url=served_base_url(host, port))
    lazy = click.get_current_context().find_object(LazyRuntime)
    if lazy is not None:
        lazy.use_settings(settings)
    # Production refuses unsafe settings here (hub.core.production), before anything is written;
    # create_app says "run `hub db upgrade` first" itself.
    rt = runtime(current_schema=False)
    app = create_app(settings=settings, plugins=rt.plugins)
    click.echo(
        f"Identity Hub on http://{host}:{port}/ (base_url {settings.base_url}, database "
        f"{_redacted(settings.database_url)})",
        err=True,
    )
    if production:
        from hub.web.app import freeze_startup_heap

        freeze_startup_heap()  # before the fork: the workers share the frozen pages too
        _gunicorn(app, host, port, workers)
    else:
        from werkzeug.serving import run_simple

        from hub.web.serving import QuietRequestHandler

        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False, request_handler=QuietRequestHandler)


def _gunicorn(app: Any, host: str, port: int, workers: int) -> None:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from gunicorn.app.base import BaseApplication

    from hub.core import metrics

    # Workers add their metrics up through files in one directory: the operator's
    # PROMETHEUS_MULTIPROC_DIR, or a private one removed at exit. Emptied at start either way.
    given = metrics.multiprocess_directory()
    directory = given or Path(tempfile.mkdtemp(prefix="hub-metrics-"))
    metrics.use_directory(directory)
    master = os.getpid()

    class HubGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # GUNICORN_CMD_ARGS (--timeout, --graceful-timeout, --max-requests, --worker-class,
            # --threads, ...) as gunicorn reads it; the bind, workers and logging stay the hub's.
            env_args = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
            for name, value in vars(env_args).items():
                if value is not None and name != "args":
                    self.cfg.set(name.lower(), value)
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)  # hub.access logs paths without query strings
            self.cfg.set("logger_class", "hub.web.gunicornlog.HubGunicornLogger")  # JSON lines too
            self.cfg.set("post_fork", _forget_inherited_connections)

        def load(self) -> Any:
            return app

    try:
        HubGunicorn().run()
    finally:
        if given is None and os.getpid() == master:  # workers leave through here too
            shutil.rmtree(directory, ignore_errors=True)


def _forget_inherited_connections(server: Any, worker: Any) -> None:
    """The app was built before the fork: each worker starts its own connection pool rather
    than share the master's sockets (SQLAlchemy's advice for forking servers)."""
    worker.app.load().extensions["hub"].db.engine.dispose(close=False)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cli.group()
def db() -> None:
    """Database schema: apply migrations, show the current revision."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    rt = runtime(current_schema=False)
    before = migrate.current_revisions(rt.db)
    migrate.upgrade(rt.db)
    after = migrate.current_revisions(rt.db)
    click.echo(f"database at {', '.join(sorted(after))} (was {', '.join(sorted(before)) or 'empty'})")


@db.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is current."""
    rt = runtime(current_schema=False)
    current = migrate.current_revisions(rt.db)
    problem = migrate.pending_message(rt.db)
    click.echo(f"revision: {', '.join(sorted(current)) or 'none'}")
    click.echo("status: current" if problem is None else f"status: {problem}")
    if problem:
        sys.exit(1)


@db.command("purge")
def db_purge() -> None:
    """Delete expired sessions, pending sign-ins, issued codes, remembered logout token ids and
    finished back-channel logout deliveries (run it daily, e.g. from cron)."""
    from hub.core import sessions
    from hub.core.db import write_transaction
    from hub.core.models import utcnow
    from hub.core.purging import delete_in_batches
    from hub.issuer import backchannel, tokens
    from hub.upstream import replay, signin

    rt = runtime()
    with write_transaction(rt.db) as session:
        ended = len(sessions.end_sessions(session, expired_under=sessions.session_policy(rt.settings), reason="expired"))
        delivered = backchannel.purge_finished(session)
    now = utcnow()  # the rest in bounded batches, each its own transaction (hub.core.purging)
    pending = delete_in_batches(rt.db, signin.purge_target(now))
    issued = sum(delete_in_batches(rt.db, target) for target in tokens.purge_targets(now))
    seen = delete_in_batches(rt.db, replay.purge_target(now))
    click.echo(
        f"deleted {ended} expired sessions, {pending} expired pending sign-ins, "
        f"{issued} expired codes and token families, {seen} expired logout token ids "
        f"and {delivered} back-channel logouts finished over a week ago"
    )


@cli.command("providers")
def providers_command() -> None:
    """List installed plugins and configured providers."""
    rt = runtime(current_schema=False)
    click.echo("Installed plugins:")
    for info in rt.plugins.loaded:
        types = ", ".join(info.provider_types) or "-"
        click.echo(f"  {info.name:<12} {info.distribution} {info.version}  provider types: {types}")
    for failure in rt.plugins.failed:
        click.echo(f"  {failure.name:<12} {failure.distribution} {failure.version}  FAILED: {failure.error}")
    for name in rt.plugins.skipped:
        click.echo(f"  {name:<12} not loaded (not in the plugins allow-list)")
    if not (rt.plugins.loaded or rt.plugins.failed or rt.plugins.skipped):
        click.echo("  none")
    click.echo("Configured providers:")
    for provider_id, provider in rt.providers.items():
        click.echo(f"  {provider_id:<12} type {provider.type_name:<8} {provider.name}  callback {provider.redirect_uri}")
    for provider_id, reason in rt.registry.unavailable.items():
        click.echo(f"  {provider_id:<12} UNAVAILABLE: {reason}")
    if not (rt.providers or rt.registry.unavailable):
        click.echo("  none (add [providers.<id>] to hub.toml)")


@cli.group()
def admin() -> None:
    """Administrators: grant and revoke the admin role."""


def build_cli(plugins: Plugins) -> click.Group:
    """The root group with every contributed command (core commands first, then plugins')."""
    _attach_core_commands()
    plugins.hook.hub_cli_commands(cli=cli)
    return cli


def _attach_core_commands() -> None:
    from hub.cli.commands import admin as admin_commands
    from hub.cli.commands.apikeys import api_keys_alias, api_keys_group
    from hub.cli.commands.apps import apps_group
    from hub.cli.commands.audit import audit_group
    from hub.cli.commands.keys import keys_group
    from hub.cli.commands.plugin import plugin_group
    from hub.cli.commands.scim import scim_group
    from hub.cli.commands.secrets import secrets_group
    from hub.cli.commands.signing_keys import signing_keys_group

    admin_commands.attach(admin)
    cli.add_command(audit_group, "audit")
    cli.add_command(keys_group, "keys")
    cli.add_command(secrets_group, "secrets")
    cli.add_command(plugin_group, "plugin")
    cli.add_command(api_keys_group, "api-keys")
    cli.add_command(api_keys_alias, "apikeys")
    cli.add_command(apps_group, "apps")
    cli.add_command(signing_keys_group, "signing-keys")
    cli.add_command(scim_group, "scim")


def main() -> None:
    try:
        settings: Settings | None = load_settings()
    except ConfigError as error:
        settings = None
        config_error: ConfigError | None = error
    else:
        config_error = None
    plugins = load_plugins(settings.plugins if settings else None)
    group = build_cli(plugins)
    lazy = LazyRuntime(plugins, settings)
    if config_error is not None and not {"-h", "--help"} & set(sys.argv[1:]) and len(sys.argv) > 1:
        click.echo(f"error: {config_error}", err=True)
        sys.exit(2)
    try:
        group.main(obj=lazy, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except HubError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
