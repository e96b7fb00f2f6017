"""`hub admin grant|revoke|list`: who may enter the admin console, audited like any admin action."""

from __future__ import annotations

import click
from sqlalchemy import select

from hub.db import write_transaction
from hub.errors import NotFound
from hub.models import User
from hub.runtime import Runtime


def find_user(session, who: str) -> User:  # type: ignore[no-untyped-def]
    """A user by numeric id or by email (email is fine for an operator's lookup, never for linking)."""
    if who.isdigit():
        user = session.get(User, int(who))
    else:
        users = session.scalars(select(User).where(User.email == who)).all()
        if len(users) > 1:
            raise NotFound(f"{len(users)} users have the email {who}; give the user id instead.")
        user = users[0] if users else None
    if user is None:
        raise NotFound(f"No user {who!r}; `hub admin list` shows the administrators.")
    return user


def set_admin(rt: Runtime, who: str, value: bool) -> User:
    with write_transaction(rt.db) as session:
        user = find_user(session, who)
        user.is_admin = value
        rt.audit.record(
            session,
            "admin.grant" if value else "admin.revoke",
            "success",
            subject_user_id=user.id,
            details={"via": "cli"},
        )
    return user


def attach(group: click.Group) -> None:
    from hub.cli import runtime_of

    @group.command("grant")
    @click.argument("who")
    @click.pass_context
    def grant(ctx: click.Context, who: str) -> None:
        """Make WHO (a user id or email) an administrator."""
        user = set_admin(runtime_of(ctx), who, True)
        click.echo(f"user {user.id} ({user.email or user.display_name}) is now an administrator")

    @group.command("revoke")
    @click.argument("who")
    @click.pass_context
    def revoke(ctx: click.Context, who: str) -> None:
        """Take the admin role granted with `grant` from WHO (a provider's role mapping still applies)."""
        user = set_admin(runtime_of(ctx), who, False)
        click.echo(f"user {user.id} ({user.email or user.display_name}) is no longer an administrator")

    @group.command("list")
    @click.pass_context
    def list_admins(ctx: click.Context) -> None:
        """List users granted the admin role with `grant`."""
        rt = runtime_of(ctx)
        with rt.db.session() as session:
            for user in session.scalars(select(User).where(User.is_admin.is_(True)).order_by(User.id)):
                click.echo(f"{user.id}\t{user.email or ''}\t{user.display_name or ''}")
