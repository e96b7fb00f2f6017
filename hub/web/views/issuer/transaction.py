"""One protocol exchange per request: its write transaction, its audit events (thinned to
milestones for anonymous refusals), and the RFC's `server_error` when something unexpected fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import g, jsonify, request

from hub.core import metrics
from hub.core.db import write_transaction
from hub.core.errors import HubError
from hub.issuer import context
from hub.issuer.context import Exchange
from hub.web import flood, ratelimit
from hub.web.request import audit_context, current_session, runtime

log = logging.getLogger(__name__)


def in_transaction(work: Callable[[], Any], failed: Callable[[], Any] | None = None) -> Any:
    """Run `work` in one write transaction with its audit events, as the current issuer exchange
    (hub.issuer.context); an unexpected failure is logged, audited in its own transaction, and
    answered by `failed` (by default the RFC's `server_error` JSON)."""
    rt = runtime()
    exchange = Exchange(
        endpoint=(request.endpoint or "").rpartition(".")[2], values=request.values, form=request.form
    )
    g.issuer_exchange = exchange
    with context.opened(exchange):
        try:
            rt.signing_keys.prepare()
            with write_transaction(rt.db) as session:
                exchange.session = session
                result = work()
                _aggregate_refusals(exchange)
                context.record_events(rt.audit, session, exchange.events, audit_context())
            return result
        except (HubError, ratelimit.RateLimitExceeded):
            raise
        except Exception:
            log.exception("issuer endpoint %s failed unexpectedly", request.endpoint)
            flood.record_failure(f"issuer.{exchange.endpoint}", reason="server_error")
            if failed is not None:
                # What `work` queued belonged to the rolled-back transaction, and so does what
                # `failed` queues: the failure is audited already (flood.record_failure).
                return failed()
            response = jsonify({"error": "server_error", "error_description": "The hub could not finish this request."})
            response.status_code = 500
            response.headers["Cache-Control"] = "no-store"
            return response


def authenticated_client_id() -> str | None:
    """The client id the request's application authenticated as, if it did."""
    exchange: Exchange | None = g.get("issuer_exchange")
    return exchange.client_id if exchange is not None else None


def _aggregate_refusals(exchange: Exchange) -> None:
    """Thin the queued refusals to the milestones of hub.web.flood: anyone can send the protocol
    endpoints bad credentials or a made-up id_token_hint, so a refusal is counted per event
    type, RFC error code and source (the authenticated application, else the client address)
    and only the 1st, 10th, 100th... of a minute is recorded, with its count. The client id a
    request names is never the source before it is authenticated: a new one per request would
    escape the count. A signed-in person's refusals stay one event each, like
    hub.web.views.errors.audit_refusal's: they name the person, whose allowance they spend."""
    if current_session() is not None:
        return
    queued = exchange.events
    client_id = exchange.client_id
    source = f"client:{client_id}" if client_id else None
    kept = []
    for event_type, outcome, fields in queued:
        if outcome == "failure":
            details = dict(fields.get("details") or {})
            reason = metrics.label(details.get("reason"), metrics.OAUTH_ERRORS)
            count = flood.milestone(event_type, reason=reason, source=source)
            if count is None:
                continue
            details.update(flood.aggregate_details(count, "client" if source else "address"))
            fields = {**fields, "details": details}
        kept.append((event_type, outcome, fields))
    exchange.events[:] = kept
