"""The signed-in person's pages: who they are, their linked accounts, linking and unlinking."""

from __future__ import annotations

from flask import Blueprint, redirect, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from hub.console.applications import connected_applications
from hub.core import accounts
from hub.core.db import write_transaction
from hub.core.errors import NotFound
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


def _own_account(session: Session, user_id: int, account_id: int) -> LinkedAccount:
    account = session.get(LinkedAccount, account_id)
    if account is None or account.user_id != user_id:
        raise NotFound("You have no linked account with that number.")
    return account


@bp.post("/account/linked/<int:account_id>/unlink")
@login_required
def unlink(account_id: int) -> Response:
    """Unlink: refuse the last account first, then revoke at the provider (network, no
    transaction open), then delete account and tokens with the audit event."""
    current = current_session()
    assert current is not None
    rt = runtime()
    with rt.db.session() as session:
        account = _own_account(session, current.user.id, account_id)
        accounts.check_unlinkable(session, account)
        provider_id = account.provider_id
    revocation = revoke_at_provider(rt.db, rt.vault, rt.providers, account_id, provider_id)
    with write_transaction(rt.db) as session:
        ended = accounts.unlink(session, _own_account(session, current.user.id, account_id))
        rt.audit.record(
            session,
            "unlink",
            "success",
            actor_user_id=current.user.id,
            subject_user_id=current.user.id,
            provider_id=provider_id,
            context=audit_context(),
            details={"linked_account_id": account_id, "provider_revocation": revocation, "sessions_ended": ended},
        )
    return redirect("/account", code=303)
