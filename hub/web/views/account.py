"""The signed-in person's pages: who they are, their linked accounts, linking and unlinking."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, redirect, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from hub.actions import linked_accounts
from hub.actions.audited import Actor
from hub.console.applications import connected_applications
from hub.core.models import LinkedAccount
from hub.core.people import verified_by_any
from hub.upstream.revocation import revoke_at_provider
from hub.web.request import audit_context, current_session, db_session, login_required, render, runtime

bp = Blueprint("account", __name__)

SIGNED_IN_HOME = "/account"
"""Where "/" sends a signed-in person; a sign-in bound for "/" goes here directly."""

ACCOUNT_DONE = {
    "remove_access": "Access removed: the application's refresh tokens were revoked, and it was told to end its sessions.",
}


@bp.get("/")
def home() -> Response | tuple[str, int]:
    if current_session() is None:
        return redirect("/login")
    return redirect(SIGNED_IN_HOME)


@bp.get("/account")
@login_required
def account() -> tuple[str, int]:
    current = current_session()
    assert current is not None
    rt = runtime()
    linked = db_session().scalars(
        select(LinkedAccount).where(LinkedAccount.user_id == current.user.id).order_by(LinkedAccount.linked_at)
    ).all()
    return render(
        "account.html",
        user=current.user,
        user_email_verified=verified_by_any(current.user.email, linked),
        linked=linked,
        providers=rt.providers,
        linkable=[p for p in rt.providers.values()],
        connected=connected_applications(db_session(), current.user.id),
        done=ACCOUNT_DONE.get(request.args.get("done", "")),
    )


@bp.post("/account/linked/<int:account_id>/unlink")
@login_required
def unlink(account_id: int) -> Response:
    """Unlink one of the person's own accounts (hub.actions.linked_accounts: never the last one)."""
    current = current_session()
    assert current is not None
    rt = runtime()
    actor = Actor(current.user.id, "account", audit_context())
    linked_accounts.unlink(rt.db, rt.audit, partial(revoke_at_provider, rt.db, rt.vault, rt.providers), actor, current.user.id, account_id)
    return redirect("/account", code=303)
