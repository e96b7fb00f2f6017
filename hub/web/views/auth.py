"""Sign-in pages and routes: the provider buttons, start, callback and logout."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, current_app, g, make_response, redirect, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from hub.core import sessions
from hub.core.db import write_transaction
from hub.core.errors import NotFound, NotSignedIn
from hub.upstream import callback, signin
from hub.upstream.provider import ProviderType
from hub.web import flood, ratelimit, security
from hub.web.request import audit_context, current_session, db_session, render, runtime
from hub.web.views.account import SIGNED_IN_HOME

bp = Blueprint("auth", __name__)


@bp.get("/login")
def login() -> tuple[str, int]:
    rt = runtime()
    providers = list(rt.providers.values())
    return render(
        "login.html",
        providers=providers,
        next_path=signin.safe_next(request.args.get("next")),
        unavailable=rt.registry.unavailable,
    )


@bp.post("/auth/<provider_id>/start")
@ratelimit.limit("signin")
def start(provider_id: str) -> Response:
    rt = runtime()
    provider = rt.registry.get(provider_id)
    if provider is None:
        raise NotFound(f"There is no provider {provider_id!r} on this hub.")
    intent = request.form.get("intent", "signin")
    current = current_session()
    if intent == "link" and current is None:
        raise NotSignedIn("Sign in before linking another account.")
    session = db_session()
    try:
        with session.begin():
            url = start_upstream_signin(
                session,
                provider,
                intent=intent,
                next_path=request.form.get("next"),
                user_id=current.user.id if current else None,
                login_hint=request.form.get("login_hint"),
            )
    except signin.SigninsBusy as error:
        audit_signins_busy(error, provider_id)
        raise
    g.no_store = True
    return redirect(url, code=303)


def start_upstream_signin(
    session: Session,
    provider: ProviderType,
    *,
    intent: str,
    next_path: str | None,
    login_hint: str | None,
    user_id: int | None = None,
) -> str:
    """Store a pending sign-in in `session` and return the provider's authorization URL. Every
    route that starts an upstream sign-in (the sign-in buttons, an application's authorization
    request with `idp_hint`) goes through here, so each spends this address's `signin`
    allowance (RateLimitExceeded) and obeys the pending sign-in caps (SigninsBusy): a path that
    stores pending sign-ins without a cookie, a CSRF token or a limit would let one client fill
    the table and lock everyone else out."""
    rt = runtime()
    ratelimit.rate_limits().spend("signin")
    return signin.start(
        session,
        provider,
        secret_key=rt.keys.secret_key,
        browser_token=security.browser_token(current_app),
        intent=intent,
        next_path=next_path,
        user_id=user_id,
        login_hint=login_hint,
        caps=signin.PendingCaps(
            per_browser=rt.settings.pending_signins_per_browser,
            total=rt.settings.pending_signins_max,
        ),
    )


def audit_signins_busy(error: signin.SigninsBusy, provider_id: str) -> None:
    """One event per window for a full pending sign-in table, not one per refused request.
    Call it after the refused transaction ended (it writes in its own)."""
    g.failure_audited = True
    flood.record_failure(
        "signin", reason=error.code, provider_id=provider_id, per_address=False, once=True,
        details={"limit": runtime().settings.pending_signins_max},
    )


@ratelimit.limit("callback")
def callback_view(provider_id: str) -> Response:
    """The provider's redirect back. Registered at /auth/<id>/callback and at each provider's
    configured redirect URI path."""
    rt = runtime()
    provider = rt.registry.get(provider_id)
    if provider is None:
        raise NotFound(f"There is no provider {provider_id!r} on this hub.")
    g.no_store = True
    cookie = current_app.config["HUB_SESSION_COOKIE"]
    done = callback.complete(
        callback.Collaborators(
            db=rt.db,
            audit=rt.audit,
            vault=rt.vault,
            secret_key=rt.keys.secret_key,
            session_policy=sessions.session_policy(rt.settings),
            signin_policy=rt.plugins.hook.hub_signin_policy,
        ),
        provider,
        request.args.to_dict(flat=True),
        browser_token=request.cookies.get(current_app.config["HUB_BROWSER_COOKIE"]),
        current=current_session(),
        previous_session_token=request.cookies.get(cookie),
        context=audit_context(),
        audit_unmatched=partial(_audit_unmatched_callback, provider_id),
    )
    # Straight to the page "/" would redirect to: one request fewer per sign-in.
    response = redirect(SIGNED_IN_HOME if done.next_path == "/" else done.next_path, code=302)
    set_session_cookie(response, done.session_token)
    return response


def _audit_unmatched_callback(provider_id: str, reason: str) -> None:
    g.failure_audited = True
    flood.record_failure("signin", reason=reason, provider_id=provider_id)


bp.add_url_rule("/auth/<provider_id>/callback", view_func=callback_view, methods=["GET"])


@bp.post("/logout")
def logout() -> Response:
    rt = runtime()
    current = current_session()
    cookie = current_app.config["HUB_SESSION_COOKIE"]
    target = "/login"
    if current is not None:
        provider = rt.registry.get(current.row.provider_id or "")
        with write_transaction(rt.db) as session:
            sessions.end_sessions(session, token=request.cookies.get(cookie, ""), reason="logout")
            rt.audit.record(
                session,
                "logout",
                "success",
                actor_user_id=current.user.id,
                subject_user_id=current.user.id,
                provider_id=current.row.provider_id,
                context=audit_context(),
            )
        if provider is not None:
            target = provider.end_session_url(f"{rt.settings.base_url.rstrip('/')}/login") or target
    response = make_response(redirect(target, code=303))
    response.delete_cookie(cookie, path="/", secure=current_app.config["HUB_HTTPS"], httponly=True, samesite="Lax")
    return response


def set_session_cookie(response: Response, token: str) -> None:
    rt = runtime()
    response.set_cookie(
        current_app.config["HUB_SESSION_COOKIE"],
        token,
        max_age=rt.settings.session_absolute_hours * 3600,
        httponly=True,
        secure=current_app.config["HUB_HTTPS"],
        samesite="Lax",
        path="/",
    )
