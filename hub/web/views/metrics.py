"""/metrics: Prometheus' scrape, for the clients and token holders the settings allow."""

from __future__ import annotations

from flask import Blueprint, g, request
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import select
from werkzeug.wrappers import Response

from hub.core import audit, metrics
from hub.core.models import AuditEvent
from hub.web import ratelimit
from hub.web.request import runtime

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    g.no_store = True
    settings = runtime().settings
    guard = metrics.ScrapeGuard(settings.metrics_allow, settings.metrics_token)
    if not guard.enabled:
        return _refusal(404, "metrics are not enabled: set metrics_allow or metrics_token (docs/configuration.md)")
    if not guard.address_allowed(request.remote_addr):
        return _refusal(403, "this client's address is not in metrics_allow")
    if not guard.token_accepted(request.headers.get("Authorization")):
        response = _refusal(401, "send the metrics_token as a bearer token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    ratelimit.authenticated()  # an allowed scraper: its scrapes spend no anonymous allowance
    return Response(metrics.exposition(_database_gauges), content_type=metrics.CONTENT_TYPE)


def _database_gauges() -> list[GaugeMetricFamily]:
    """Values that live in the database, read at each scrape (the same for every worker)."""
    db = runtime().db
    with db.session() as session:
        head = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    waiting = audit.backlog(db)
    return [
        metrics.gauge("hub_audit_chain_head", "Sequence number of the newest audit event.", head or 0),
        metrics.gauge("hub_audit_pending_events", "Audit events in the outbox, not yet chained.", waiting.pending),
        metrics.gauge(
            "hub_audit_chain_lag_seconds", "Age of the oldest audit event not yet chained (0: none).", waiting.lag_seconds
        ),
    ]


def _refusal(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")
