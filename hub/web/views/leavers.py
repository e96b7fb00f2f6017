"""The admin console's recent leavers page (hub.console.leavers), behind the console's guard."""

from __future__ import annotations

from flask import Blueprint

from hub.console.leavers import recent_leavers
from hub.web.request import db_session, render, runtime
from hub.web.views.admin import guard

bp = Blueprint("admin_leavers", __name__, url_prefix="/admin")
bp.before_request(guard)


@bp.get("/leavers")
def leavers() -> tuple[str, int]:
    settings = runtime().settings
    return render(
        "admin/leavers.html",
        rows=recent_leavers(db_session()),
        check_seconds=settings.upstream_check_seconds,
        grace_seconds=settings.upstream_check_grace_seconds,
        nav="leavers",
    )
