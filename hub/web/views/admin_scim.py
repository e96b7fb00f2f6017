"""The admin console's SCIM tokens page: each token's name, provider, creation and last use; create
one (its secret shown once, in the answer to the POST) and revoke one (with a confirmation).

The changes and their audit events are in hub.actions.scim_tokens, the same as `hub scim`.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, request
from werkzeug.wrappers import Response

from hub.actions import scim_tokens
from hub.actions.audited import Actor, not_confirmed
from hub.console import provisioning
from hub.core.parsing import parse_id
from hub.web.request import audit_context, current_session, db_session, render, runtime
from hub.web.views.admin import guard

bp = Blueprint("admin_scim", __name__, url_prefix="/admin/scim")
bp.before_request(guard)


def _actor() -> Actor:
    current = current_session()
    assert current is not None
    return Actor(current.user.id, "console", audit_context())


def _page(created: tuple[str, str] | None = None) -> tuple[str, int]:
    rt = runtime()
    return render(
        "admin/scim.html", tokens=provisioning.tokens(db_session()), providers=sorted(rt.registry.providers),
        created=created, done=request.args.get("done"), nav="scim",
    )


@bp.get("")
def index() -> tuple[str, int]:
    return _page()


@bp.post("")
def create() -> tuple[str, int]:
    """A new token for a provider; the page answering this POST is the only one that shows it."""
    rt = runtime()
    provider_id = request.form.get("provider_id", "")[:64]
    name = request.form.get("name", "").strip() or f"{provider_id} provisioning"
    created = scim_tokens.create(rt.db, rt.audit, _actor(), provider_id, set(rt.registry.providers), name)
    g.no_store = True
    return _page(created=(provisioning.scim_url(rt.settings.base_url, provider_id), created.plaintext))


@bp.post("/<token_id>/revoke")
def revoke(token_id: str) -> Response:
    rt = runtime()
    actor = _actor()
    number = parse_id(token_id, "SCIM token id")
    if request.form.get("confirm") != "yes":
        raise not_confirmed(rt.db, rt.audit, "scim.token_revoke", actor, scim_token_id=number)
    scim_tokens.revoke(rt.db, rt.audit, actor, number)
    return redirect("/admin/scim?done=revoke", code=303)
