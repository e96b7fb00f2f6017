"""What every view needs from the app: the runtime, the request's database session, the signed-in
user, the audit context, and the decorators that guard pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import current_app, g, redirect, render_template, request
from sqlalchemy.orm import Session

from hub.core.audit import RequestContext
from hub.core.errors import Forbidden
from hub.core.sessions import CurrentSession
from hub.runtime import Runtime
from hub.web import security

F = TypeVar("F", bound=Callable[..., Any])


def runtime() -> Runtime:
    return current_app.extensions["hub"]


def db_session() -> Session:
    """The request's SQLAlchemy session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().db.sessions()
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def current_session() -> CurrentSession | None:
    return g.get("current_session")


def bearer_token() -> str | None:
    """The request's `Authorization: Bearer` credential (scheme in any case, surrounding blanks
    stripped), or None when there is none or it is empty: every bearer-token door reads it alike."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def audit_context() -> RequestContext:
    return RequestContext(
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
        request_id=g.get("request_id"),
    )


def login_required(view: F) -> F:
    """Send anonymous visitors to sign in, and back here afterwards."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_session() is None:
            return redirect(f"/login?next={quote(request.full_path.rstrip('?'), safe='/')}")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @login_required
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        current = current_session()
        if current is None or not current.is_admin:
            raise Forbidden("This page is for administrators.")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return (
        render_template(
            template,
            current=current_session(),
            csrf_token=security.csrf_token(current_app),
            **context,
        ),
        status,
    )
