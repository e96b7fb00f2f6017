"""The issuer's blueprint and its error answers: the RFC's JSON at the back-channel endpoints,
pages elsewhere."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from hub.core import metrics
from hub.core.errors import HubError
from hub.web import ratelimit

bp = Blueprint("issuer", __name__)

BACK_CHANNEL = frozenset({"issuer.token", "issuer.revoke", "issuer.introspect", "issuer.userinfo"})


@bp.errorhandler(HubError)
def _protocol_error(error: HubError) -> Any:
    """At the back-channel endpoints a refusal raised before the protocol code ran (a NUL in the
    form, a CSRF-free check) is still the RFC's JSON error, not a page."""
    from hub.web.views import errors

    if request.endpoint not in BACK_CHANNEL:
        return errors.handle_hub_error(error)
    if not g.get("failure_audited"):
        errors.audit_refusal(error.code)
    response = jsonify({"error": "invalid_request", "error_description": error.message})
    response.status_code = 400 if error.status < 500 else error.status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ratelimit.RateLimitExceeded)
def _token_rate_limited(_error: ratelimit.RateLimitExceeded) -> Any:
    """The token endpoint's 429 in the RFC's JSON shape (the breach is audited by hub.web.ratelimit)."""
    from hub.web.views import errors

    if request.endpoint not in BACK_CHANNEL:
        return errors.handle_rate_limited(_error)
    seconds = ratelimit.rate_limits().retry_after()
    response = jsonify({
        "error": "temporarily_unavailable",
        "error_description": f"Too many token requests for this application; retry in {seconds} s.",
    })
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    metrics.issuer_grant(request.form.get("grant_type", ""), "unknown", "temporarily_unavailable")
    return response
