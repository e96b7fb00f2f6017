"""The admin console's pages: overview, linked accounts, user detail and actions, audit log, providers.

Only administrators enter: the blueprint's own guard runs before every view (so a new view
cannot forget it), sends anonymous visitors to sign in and back, and refuses signed-in
non-admins with 403 after auditing the attempt. Admin status comes from the server only (the
user row or the provider roles stored in the session), never from the request. Every change
is a POST with the CSRF token (checked by the app for every non-GET) and an explicit
confirmation, and runs an action of hub.actions (audited there); GET never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, redirect, request
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from hub.actions import linked_accounts, users
from hub.actions.audited import ActionRefused, Actor, not_confirmed, record_refusal
from hub.console import cursors, listing, listing_csv, provisioning
from hub.console.applications import connected_applications
from hub.console.auditlog import ChainWatch, audit_page, event_types, recent_for_user
from hub.console.overview import OverviewCache, chart_svg
from hub.console.providers import check_all
from hub.console.token_health import TOKEN_STATES
from hub.core import apikeys
from hub.core.audit import EXPORT_FORMATS, ExportFilters, export
from hub.core.errors import Forbidden, HubError, NotFound
from hub.core.models import ApiKey, LinkedAccount, User, WebSession
from hub.core.parsing import MAX_BIGINT, optional_id, parse_day, parse_id, parse_int
from hub.core.people import user_email_verified
from hub.runtime import Runtime, revoke_upstream
from hub.web.request import audit_context, current_session, db_session, render, runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")

DONE_MESSAGES = {
    "unlink": "The linked account was unlinked and its tokens deleted.",
    "revoke_tokens": "The account's stored tokens were deleted; the user signs in again to store new ones.",
    "disable_user": "The user was disabled and all their sessions ended.",
    "enable_user": "The user was enabled and can sign in again.",
    "signout_everywhere": "All the user's sessions ended.",
    "grant": "The user is now an administrator.",
    "revoke": "The hub's administrator role was removed.",
    "remove_access": "The application's access was removed: its refresh tokens were revoked and it was told to end its sessions.",
}


@dataclass(frozen=True)
class UserAction:
    """A button on a user's page: its label, its audit event type, and the action it runs."""

    label: str
    event: str
    run: Callable[..., object]


USER_ACTIONS: dict[str, UserAction] = {
    "disable_user": UserAction("Disable user", "admin.disable_user", users.disable),
    "enable_user": UserAction("Enable user", "admin.enable_user", users.enable),
    "signout_everywhere": UserAction("Sign out everywhere", "admin.signout_everywhere", users.sign_out_everywhere),
    "grant": UserAction("Make administrator", "admin.grant", users.grant_admin),
    "revoke": UserAction("Remove administrator", "admin.revoke", users.revoke_admin),
}
"""Actions on the user: run(db, audit, actor, user_id) (disable also takes revoke_upstream)."""

ACCOUNT_ACTIONS: dict[str, UserAction] = {
    "unlink": UserAction("Unlink", "unlink", linked_accounts.unlink),
    "revoke_tokens": UserAction("Revoke tokens", "admin.revoke_tokens", linked_accounts.revoke_tokens),
}
"""Actions on one of the user's linked accounts: run(db, audit, revoke_upstream, actor, user_id, account_id)."""

ACTIONS: dict[str, str] = {name: action.label for name, action in {**ACCOUNT_ACTIONS, **USER_ACTIONS}.items()}
"""Action name -> the button label (the page's order)."""


class BadFilter(HubError):
    code = "bad_filter"
    status = 400
    title = "This filter is not valid"
    hint = "Correct the highlighted field, or clear the filters."


# --- the guard ----------------------------------------------------------------------------------


@bp.before_request
def guard() -> WerkzeugResponse | None:
    """Anonymous -> sign in and come back; signed in but not an admin -> audited 403."""
    current = current_session()
    if current is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else "/admin"
        return redirect(f"/login?{urlencode({'next': target})}")
    if not current.is_admin:
        rt = runtime()
        rt.audit.record_failure(
            rt.db,
            "admin.access",
            reason="forbidden",
            actor_user_id=current.user.id,
            context=audit_context(),
            details={"method": request.method, "path": request.path[:200]},
        )
        g.failure_audited = True
        raise Forbidden(
            "The admin console is for administrators.",
            hint="An administrator can grant you the role with `hub admin grant`.",
        )
    g.no_store = True
    return None


def _overview_cache() -> OverviewCache:
    return current_app.extensions.setdefault("hub.admin.overview", OverviewCache())


def _chain_watch() -> ChainWatch:
    rt = runtime()
    return current_app.extensions.setdefault("hub.admin.chain", ChainWatch(rt.db, rt.keys.audit_key))


def _provider_names() -> dict[str, str]:
    return {pid: provider.name for pid, provider in runtime().providers.items()}


# --- overview -----------------------------------------------------------------------------------


@bp.get("")
def overview() -> tuple[str, int]:
    data = _overview_cache().get(db_session())
    names = _provider_names()
    charts = [(series, chart_svg(series, names.get(series.provider_id, series.provider_id))) for series in data.series]
    return render("admin/overview.html", data=data, charts=charts, names=names, nav="overview")


# --- linked accounts ----------------------------------------------------------------------------


def _list_filters() -> listing.ListFilters:
    return listing.ListFilters(
        search=request.args.get("q", "").strip(),
        provider_id=request.args.get("provider", ""),
        state=request.args.get("state", ""),
        sort=request.args.get("sort", cursors.DEFAULT_SORT) or cursors.DEFAULT_SORT,
    ).validated()


def _page_size() -> int:
    size = request.args.get("size")
    if size is None:
        return listing.PAGE_SIZE
    return parse_int(size, "Page size", low=1, high=listing.MAX_PAGE_SIZE, error=BadFilter)


@bp.get("/accounts")
def accounts() -> tuple[str, int]:
    filters = _list_filters()
    after = request.args.get("after") or None
    page = listing.list_page(db_session(), filters, after, _page_size())
    query = {k: v for k, v in {"q": filters.search, "provider": filters.provider_id, "state": filters.state, "sort": filters.sort}.items() if v}
    page_query = {**query, "size": str(_page_size())} if "size" in request.args else query
    next_url = f"/admin/accounts?{urlencode({**page_query, 'after': page.next_cursor})}" if page.next_cursor else None
    return render(
        "admin/accounts.html",
        page=page,
        filters=filters,
        names=_provider_names(),
        provider_ids=sorted(set(_provider_names()) | set(runtime().registry.unavailable)),
        states=TOKEN_STATES,
        sorts=cursors.SORTS,
        next_url=next_url,
        first_url=f"/admin/accounts?{urlencode(page_query)}" if after else None,
        csv_url=f"/admin/accounts.csv?{urlencode(query)}",
        nav="accounts",
    )


@bp.get("/accounts.csv")
def accounts_csv() -> Response:
    filters = _list_filters()
    rt = runtime()

    def lines() -> Iterator[str]:
        with rt.db.session() as session:
            yield listing_csv.csv_line(listing_csv.CSV_COLUMNS)
            for row in listing.all_rows(session, filters):
                yield listing_csv.csv_line(listing_csv.csv_record(row))

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="linked-accounts-{stamp}.csv"'},
    )


# --- a user -------------------------------------------------------------------------------------


def _user_or_404(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.", hint="Find the user in the linked accounts list.")
    return user


@bp.get("/users/<int:user_id>")
def user_detail(user_id: int) -> tuple[str, int]:
    session = db_session()
    user = _user_or_404(user_id)
    web_sessions = session.scalars(
        select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.last_seen_at.desc()).limit(50)
    ).all()
    current = current_session()
    assert current is not None
    done = request.args.get("done", "")
    return render(
        "admin/user.html",
        user=user,
        user_email_verified=user_email_verified(user),
        linked=listing.accounts_of_user(session, user_id),
        web_sessions=web_sessions,
        events=recent_for_user(session, user_id),
        connected=connected_applications(session, user_id),
        provisioned=provisioning.provisioned_as(session, user_id),
        disabled_by=provisioning.disabled_by_text(user.disabled_by, _provider_names()),
        names=_provider_names(),
        states=TOKEN_STATES,
        actions=ACTIONS,
        is_self=current.user.id == user_id,
        done=DONE_MESSAGES.get(done),
        nav="accounts",
    )


@bp.get("/users/<int:user_id>/confirm/<action>")
def confirm(user_id: int, action: str) -> tuple[str, int]:
    """The second step of every action: says what will happen, and posts it."""
    if action not in ACTIONS:
        raise NotFound(f"There is no admin action {action[:40]!r}.")
    user = _user_or_404(user_id)
    account = None
    if action in ACCOUNT_ACTIONS:
        account = db_session().get(LinkedAccount, _account_arg(request.args.get("account")))
        if account is None or account.user_id != user_id:
            raise NotFound(f"User {user_id} has no such linked account.", hint="Reload the user's page.")
    return render(
        "admin/confirm.html",
        user=user,
        action=action,
        label=ACTIONS[action],
        account=account,
        provisioned=provisioning.provisioned_as(db_session(), user_id),
        names=_provider_names(),
        nav="accounts",
    )


@bp.post("/users/<int:user_id>/<action>")
def act(user_id: int, action: str) -> WerkzeugResponse:
    current = current_session()
    assert current is not None
    chosen = ACCOUNT_ACTIONS.get(action) or USER_ACTIONS.get(action)
    if chosen is None:
        raise NotFound(f"There is no admin action {action[:40]!r}.")
    rt = runtime()
    actor = Actor(current.user.id, "console", audit_context())
    form_account = request.form.get("account")
    account_id = _account_arg(form_account) if action in ACCOUNT_ACTIONS and form_account else None
    if request.form.get("confirm") != "yes":
        raise not_confirmed(rt.db, rt.audit, chosen.event, actor, subject_user_id=user_id, linked_account_id=account_id)
    if action == "disable_user":  # the deprovisioning path: it also revokes provider tokens
        users.disable(rt.db, rt.audit, revoke_upstream(rt), actor, user_id)
    elif action not in ACCOUNT_ACTIONS:
        chosen.run(rt.db, rt.audit, actor, user_id)
    elif account_id is None:
        raise _refused(rt, chosen.event, actor, user_id, "Choose which linked account this action is for.")
    else:
        chosen.run(rt.db, rt.audit, revoke_upstream(rt), actor, user_id, account_id)
    _overview_cache().clear()
    return redirect(f"/admin/users/{user_id}?{urlencode({'done': action})}", code=303)


def _refused(rt: Runtime, event: str, actor: Actor, user_id: int, message: str) -> ActionRefused:
    error = ActionRefused(message)
    record_refusal(rt.db, rt.audit, event, actor, error, subject_user_id=user_id)
    return error


def _account_arg(value: str | None) -> int:
    if not value:
        raise NotFound("Choose a linked account from the user's page.")
    return parse_id(value, "Linked account", error=NotFound)


# --- audit log ----------------------------------------------------------------------------------


def _audit_filters() -> ExportFilters:
    args = request.args
    user_id = optional_id(args.get("user"), "User (the number shown on the user's page)", error=BadFilter)
    outcome = args.get("outcome", "")
    if outcome not in {"", "success", "failure"}:
        raise BadFilter("The outcome must be success or failure.")
    kind = args.get("type", "").strip()
    return ExportFilters(
        types=(kind,) if kind else (),
        outcome=outcome or None,
        user_id=user_id,
        provider_id=args.get("provider", "").strip() or None,
        since=_day(args.get("since"), "From"),
        until=_day(args.get("until"), "To", end_of_day=True),
    )


def _day(value: str | None, label: str, *, end_of_day: bool = False) -> datetime | None:
    if not value:
        return None
    day = parse_day(value, label, error=BadFilter)
    if end_of_day and day.date() == date.max:
        return None  # "until the last day there is": no upper bound
    return day + timedelta(days=1) if end_of_day else day


def _audit_query() -> dict[str, str]:
    keys = ("type", "outcome", "user", "provider", "since", "until")
    return {key: request.args[key] for key in keys if request.args.get(key)}


@bp.get("/audit")
def audit() -> tuple[str, int]:
    filters = _audit_filters()
    before_text = request.args.get("before", "")
    before = optional_id(before_text, "Page marker (an event number)", high=MAX_BIGINT, error=BadFilter)
    session = db_session()
    page = audit_page(session, filters, before)
    query = _audit_query()
    return render(
        "admin/audit.html",
        page=page,
        args=query,
        types=event_types(session),
        chain=_chain_watch().state(session),
        names=_provider_names(),
        next_url=f"/admin/audit?{urlencode({**query, 'before': page.next_before})}" if page.next_before else None,
        first_url=f"/admin/audit?{urlencode(query)}" if before_text else None,
        export_urls={fmt: f"/admin/audit.{fmt}?{urlencode(query)}" for fmt in EXPORT_FORMATS},
        nav="audit",
    )


@bp.get("/audit.<fmt>")
def audit_export(fmt: str) -> Response:
    if fmt not in EXPORT_FORMATS:
        raise NotFound(f"Audit exports are {' or '.join(EXPORT_FORMATS)}.")
    filters = _audit_filters()
    rt = runtime()

    def lines() -> Iterator[str]:
        with rt.db.session() as session:
            yield from export(session, filters, fmt)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        lines(),
        mimetype="text/csv" if fmt == "csv" else "application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'},
    )


# --- API keys -----------------------------------------------------------------------------------


@bp.get("/api-keys")
def api_keys() -> tuple[str, int]:
    """The keys with their scope, expiry and state (managed with `hub api-keys`)."""
    keys = db_session().scalars(select(ApiKey).order_by(ApiKey.id)).all()
    return render("admin/api_keys.html", keys=keys, scope=apikeys.describe_scope, state=apikeys.state, nav="api_keys")


# --- providers ----------------------------------------------------------------------------------


@bp.get("/providers")
def providers() -> tuple[str, int]:
    rt = runtime()
    counts = _overview_cache().get(db_session()).accounts_by_provider
    return render(
        "admin/providers.html",
        plugins=rt.plugins,
        providers=rt.providers,
        health=check_all(rt.providers),
        unavailable=rt.registry.unavailable,
        counts=counts,
        orphans=sorted(pid for pid in counts if pid not in rt.providers),
        nav="providers",
    )

