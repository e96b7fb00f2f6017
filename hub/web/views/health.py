"""Probes for load balancers: /healthz (the process answers), /readyz (database and schema ready)."""

from __future__ import annotations

import logging

from flask import Blueprint, g, jsonify
from sqlalchemy import text
from werkzeug.wrappers import Response

from hub.core import migrate
from hub.web import ratelimit
from hub.web.request import runtime

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
ratelimit.exempt("load balancers probe often from one address; the probes write nothing")(bp)


@bp.get("/healthz")
def healthz() -> Response:
    g.no_store = True
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    g.no_store = True
    rt = runtime()
    try:
        with rt.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        problem = migrate.pending_message(rt.db)
    except Exception as error:  # the probe's answer is the point; details go to the log
        log.error("readyz: database unreachable (%s)", type(error).__name__)
        return jsonify(status="unavailable", reason="database unreachable"), 503
    if problem:
        return jsonify(status="unavailable", reason=problem), 503
    return jsonify(status="ready"), 200
