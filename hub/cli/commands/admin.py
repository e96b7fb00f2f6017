"""`hub admin grant|revoke|disable|enable|list`: who may enter the admin console, audited like any admin action."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from hub.actions import users
from hub.cli.context import OPERATOR, runtime
from hub.core.models import User
from hub.core.people import find_user, user_email_verified
from hub.runtime import Runtime, revoke_upstream


def _user_id(rt: Runtime, who: str) -> int:
    with rt.db.session() as session:
        return find_user(session, who).id


def attach(group: click.Group) -> None:
    @group.command("grant")
    @click.argument("who")
    def grant(who: str) -> None:
        """Make WHO (a user id, or PROVIDER_ID:SUBJECT) an administrator.

        Given an email address it changes nothing and lists every account showing that
        address, with whether its provider verified it, so you can pick the user id."""
        rt = runtime()
        user = users.grant_admin(rt.db, rt.audit, OPERATOR, _user_id(rt, who))
        click.echo(f"user {user.id} ({user.display_name or 'no name'}) is now an administrator")

    @group.command("revoke")
    @click.argument("who")
    def revoke(who: str) -> None:
        """Take the admin role granted with `grant` from WHO (a user id, or PROVIDER_ID:SUBJECT).

        A provider's role mapping still applies."""
        rt = runtime()
        user = users.revoke_admin(rt.db, rt.audit, OPERATOR, _user_id(rt, who))
        click.echo(f"user {user.id} ({user.display_name or 'no name'}) is no longer an administrator")

    @group.command("disable")
    @click.argument("who")
    def disable(who: str) -> None:
        """Disable WHO (a user id, or PROVIDER_ID:SUBJECT) and cut them off everywhere.

        Their hub sessions end (applications get a back-channel logout), every application
        refresh token is revoked, their stored provider tokens are revoked and deleted."""
        rt = runtime()
        cut = users.disable(rt.db, rt.audit, revoke_upstream(rt), OPERATOR, _user_id(rt, who))
        click.echo(
            f"user disabled: {cut.sessions_ended} session(s) ended, {cut.application_grants_revoked} "
            f"application token grant(s) revoked, {cut.upstream_token_sets_deleted} provider token set(s) deleted"
        )

    @group.command("enable")
    @click.argument("who")
    def enable(who: str) -> None:
        """Let WHO sign in again (their revoked tokens stay revoked)."""
        rt = runtime()
        users.enable(rt.db, rt.audit, OPERATOR, _user_id(rt, who))
        click.echo("user enabled")

    @group.command("seed")
    @click.argument("count", type=click.IntRange(min=1))
    @click.option("--provider", "providers", multiple=True, help="Provider id to use (repeat); default: the configured providers.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def seed_command(count: int, providers: tuple[str, ...], yes: bool) -> None:
        """Add COUNT fake linked accounts (about 0.8 x COUNT users), token sets and 30 days of
        audit events, for demos and benchmarks. Never run it against production data."""
        from hub.cli.seed import seed

        rt = runtime()
        if rt.settings.production and not yes:
            click.confirm("This hub is configured for production. Add fake users anyway?", abort=True)
        with click.progressbar(length=1, label=f"Seeding {count:,} linked accounts", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            report = seed(rt, count, providers=providers or None, progress=progress)
        click.echo(
            f"added {report.users:,} users, {report.linked_accounts:,} linked accounts, "
            f"{report.token_sets:,} token sets and {report.audit_events:,} audit events "
            f"in {report.seconds:.1f} s"
        )

    @group.command("list")
    def list_admins() -> None:
        """List users granted the admin role with `grant`."""
        rt = runtime()
        with rt.db.session() as session:
            for user in session.scalars(select(User).where(User.is_admin.is_(True)).order_by(User.id)):
                email = user.email or ""
                if email and not user_email_verified(user):
                    email += " (unverified)"
                click.echo(f"{user.id}\t{email}\t{user.display_name or ''}")
