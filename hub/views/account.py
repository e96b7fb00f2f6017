"""The signed-in person's pages: who they are, their linked accounts, linking and unlinking."""

from __future__ import annotations

from flask import Blueprint, redirect
from sqlalchemy import select
from werkzeug.wrappers import Response

from hub import accounts
from hub.db import write_transaction
from hub.errors import NotFound
from hub.models import LinkedAccount
from hub.web import audit_context, current_session, db_session, login_required, render, runtime

bp = Blueprint("account", __name__)


@bp.get("/")
def home() -> Response | tuple[str, int]:
    if current_session() is None:
        return redirect("/login")
    return redirect("/account")


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
        linked=linked,
        providers=rt.providers,
        linkable=[p for p in rt.providers.values()],
    )


@bp.post("/account/linked/<int:account_id>/unlink")
@login_required
def unlink(account_id: int) -> Response:
    current = current_session()
    assert current is not None
    rt = runtime()
    with write_transaction(rt.db) as session:
        account = session.get(LinkedAccount, account_id)
        if account is None or account.user_id != current.user.id:
            raise NotFound("You have no linked account with that number.")
        provider_id = account.provider_id
        accounts.unlink(session, account)
        rt.audit.record(
            session,
            "unlink",
            "success",
            actor_user_id=current.user.id,
            subject_user_id=current.user.id,
            provider_id=provider_id,
            context=audit_context(),
            details={"linked_account_id": account_id},
        )
    return redirect("/account", code=303)
