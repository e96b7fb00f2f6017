"""Applications pages: the admin console's registry (register with the secret shown once, list,
show, rotate the secret, disable, enable, delete, per-application grants and last use), and
"Remove access" to a connected application, for the person (on My account) and for an admin
(on a user's page); both pages list them with hub.console.applications.connected_applications.

Admin routes run the admin console's own guard (hub.web.views.admin.guard) before every view. Every
change is a POST with the CSRF token (checked by the app) and, for the admin's, an explicit
confirmation page; the changes themselves and their audit events are in
hub.actions.applications. A client secret appears once, in the answer to the POST that made
it, never cached, and never again.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, g, redirect, request
from werkzeug.wrappers import Response

from hub.actions import applications as actions
from hub.actions.audited import Actor, not_confirmed
from hub.console import applications as console
from hub.core.errors import NotFound
from hub.core.models import User
from hub.issuer import applications
from hub.issuer import consent as grants
from hub.issuer.applications import ApplicationError, NewSecret
from hub.web.request import audit_context, current_session, db_session, login_required, render, runtime
from hub.web.views.admin import guard

bp = Blueprint("applications", __name__)
admin_bp = Blueprint("admin_applications", __name__, url_prefix="/admin")
admin_bp.before_request(guard)

DONE_MESSAGES = {
    "disable": "The application was disabled: no sign-in, token or refresh succeeds for it, and its refresh tokens were revoked.",
    "enable": "The application was enabled again. Tokens revoked when it was disabled stay revoked.",
    "delete": "The application was deleted with its grants, codes and tokens.",
    "remove_access": "The application's access was removed: its refresh tokens were revoked and it was told to end its sessions.",
}


def _actor() -> Actor:
    current = current_session()
    assert current is not None
    return Actor(current.user.id, "console", audit_context())


def lines(text: str) -> list[str]:
    """Non-empty lines of a textarea (one URI per line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


APPLICATION_ACTIONS: dict[str, str] = {
    "rotate_secret": "Rotate the client secret",
    "disable": "Disable",
    "enable": "Enable",
    "delete": "Delete",
}
"""Action name (audit type `application.<name>`) -> the button label."""

_RUN = {
    "rotate_secret": actions.rotate_secret,
    "disable": actions.disable,
    "enable": actions.enable,
    "delete": actions.delete,
}


# --- the person's Connected applications -----------------------------------------------------------


@bp.post("/account/applications/<client_id>/remove")
@login_required
def remove_own_access(client_id: str) -> Response:
    current = current_session()
    assert current is not None
    rt = runtime()
    actions.remove_access(rt.db, rt.audit, Actor(current.user.id, "account", audit_context()), current.user.id, client_id)
    return redirect("/account?done=remove_access", code=303)


# --- the admin's registry ---------------------------------------------------------------------------


@admin_bp.get("/applications")
def index() -> tuple[str, int]:
    return render(
        "admin/applications.html",
        rows=console.list_rows(db_session()),
        done=DONE_MESSAGES.get(request.args.get("done", "")),
        nav="applications",
    )


@admin_bp.get("/applications/new")
def new() -> tuple[str, int]:
    return render("admin/application_new.html", form=None, error=None, nav="applications")


@admin_bp.post("/applications")
def create() -> tuple[str, int]:
    form = actions.Registration(
        name=request.form.get("name", "").strip(),
        redirect_uris=lines(request.form.get("redirect_uris", "")),
        public=request.form.get("public") == "yes",
        first_party=request.form.get("first_party") == "yes",
        post_logout_redirect_uris=lines(request.form.get("post_logout_redirect_uris", "")),
        backchannel_logout_uri=request.form.get("backchannel_logout_uri", "").strip() or None,
    )
    rt = runtime()
    try:
        created = actions.register(rt.db, rt.audit, _actor(), form)
    except ApplicationError as error:  # audited by the action; the form is shown again
        return render("admin/application_new.html", status=400, form=form, error=error, nav="applications")
    g.no_store = True
    return render(
        "admin/application_secret.html",
        application=created.application,
        client_secret=created.client_secret,
        created=True,
        nav="applications",
    )


@admin_bp.get("/applications/<client_id>")
def show(client_id: str) -> tuple[str, int]:
    session = db_session()
    row = console.row_for(session, client_id)
    return render(
        "admin/application.html",
        row=row,
        described=applications.describe(row.application),
        holders=console.grant_holders(session, row.application.id),
        actions=APPLICATION_ACTIONS,
        done=DONE_MESSAGES.get(request.args.get("done", "")),
        nav="applications",
    )


@admin_bp.get("/applications/<client_id>/confirm/<action>")
def confirm(client_id: str, action: str) -> tuple[str, int]:
    if action not in APPLICATION_ACTIONS:
        raise NotFound(f"There is no application action {action[:40]!r}.")
    row = console.row_for(db_session(), client_id)
    return render(
        "admin/application_confirm.html",
        row=row,
        action=action,
        label=APPLICATION_ACTIONS[action],
        nav="applications",
    )


@admin_bp.post("/applications/<client_id>/<action>")
def act(client_id: str, action: str) -> Response | tuple[str, int]:
    run = _RUN.get(action)
    if run is None:
        raise NotFound(f"There is no application action {action[:40]!r}.")
    rt = runtime()
    actor = _actor()
    if request.form.get("confirm") != "yes":
        raise not_confirmed(rt.db, rt.audit, f"application.{action}", actor, client_id=client_id[:64])
    changed = run(rt.db, rt.audit, actor, client_id)
    if isinstance(changed, NewSecret):  # rotate_secret: the new secret, shown once
        g.no_store = True
        return render(
            "admin/application_secret.html",
            application=changed.application,
            client_secret=changed.client_secret,
            created=False,
            nav="applications",
        )
    if action == "delete":
        return redirect("/admin/applications?done=delete", code=303)
    return redirect(f"/admin/applications/{client_id}?{urlencode({'done': action})}", code=303)


# --- the admin, for one person ------------------------------------------------------------------------


@admin_bp.get("/users/<int:user_id>/applications/<client_id>/confirm")
def confirm_remove(user_id: int, client_id: str) -> tuple[str, int]:
    session = db_session()
    user = session.get(User, user_id)
    application = applications.get(session, client_id)
    if user is None or grants.find(session, user_id, application.id) is None:
        raise NotFound(f"User {user_id} has not connected {application.name}.", hint="Reload the user's page.")
    return render("admin/user_application_confirm.html", user=user, application=application, nav="accounts")


@admin_bp.post("/users/<int:user_id>/applications/<client_id>/remove")
def remove_access(user_id: int, client_id: str) -> Response:
    rt = runtime()
    actor = _actor()
    if request.form.get("confirm") != "yes":
        raise not_confirmed(rt.db, rt.audit, "grant.remove", actor, subject_user_id=user_id, client_id=client_id[:64])
    actions.remove_access(rt.db, rt.audit, actor, user_id, client_id)
    return redirect(f"/admin/users/{user_id}?done=remove_access", code=303)
