"""One place that turns every error into a readable page or JSON, audited when it refused a change.

Never a stack trace, never a secret: the page shows the error's title, message and hint, and
the request id so support can find the log line.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, make_response, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from hub.core.errors import HubError
from hub.web import flood, ratelimit
from hub.web.request import audit_context, current_session, render, runtime

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/scim/")):  # machines: a rate limit or 404 answers JSON
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def respond(status: int, code: str, title: str, message: str, hint: str, provider_code: str | None = None) -> Response | tuple[str, int]:
    g.no_store = True
    if wants_json():
        body = {"error": {"code": code, "message": message, "hint": hint, "request_id": g.get("request_id")}}
        if provider_code:
            body["error"]["provider_code"] = provider_code
        response = jsonify(body)
        response.status_code = status
        return response
    return render(
        "error.html",
        status=status,
        code=code,
        title=title,
        message=message,
        hint=hint,
        provider_code=provider_code,
        request_id=g.get("request_id"),
    )


def handle_hub_error(error: HubError) -> Response | tuple[str, int]:
    if request.method not in {"GET", "HEAD"} and not (g.get("failure_audited") or error.audited):
        audit_refusal(error.code)
    return respond(error.status, error.code, error.title, error.message, error.hint, error.provider_code)


def handle_http_error(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    if status == 405 and request.path.startswith("/oauth2/") and request.path != "/oauth2/authorize":
        return _protocol_method_not_allowed(error)
    messages = {
        404: ("Not found", "There is no page at this address.", "Check the address, or go back to the start page."),
        405: ("Not allowed", "This address does not accept that kind of request.", "Use the buttons on the hub's pages."),
        413: ("Too large", "The request was too large.", "Send less data."),
    }
    title, message, hint = messages.get(status, (error.name, error.name, "Go back and try again."))
    return respond(status, f"http_{status}", title, message, hint)


def _protocol_method_not_allowed(error: HTTPException) -> Response:
    """The issuer's back-channel endpoints speak JSON to programs (RFC 6749 §5.2), even to a
    request with the wrong method, which never reaches the endpoint's own error handling."""
    response = jsonify({
        "error": "invalid_request",
        "error_description": f"{request.path} does not accept {request.method[:16]} requests.",
    })
    response.status_code = 405
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers["Allow"] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_rate_limited(_error: ratelimit.RateLimitExceeded) -> Response:
    """429 with Retry-After; audited once per burst by hub.web.ratelimit, never here."""
    seconds = ratelimit.rate_limits().retry_after()
    response = make_response(
        respond(
            429,
            "rate_limited",
            "Too many requests",
            "Too many requests came from your network to this part of the hub.",
            f"Wait {seconds} seconds and try again.",
        )
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def handle_unexpected(error: Exception) -> Response | tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    if request.method not in {"GET", "HEAD"} and not g.get("failure_audited"):
        audit_refusal("internal_error")
    return respond(
        500,
        "internal_error",
        "Something went wrong",
        "The hub could not finish this request. Nothing was changed.",
        f"Try again. If it keeps happening, tell your administrator the request id {g.get('request_id')}.",
    )


def audit_refusal(reason: str) -> None:
    """A refused state-changing request leaves an audit event, in its own transaction; those
    of anonymous requests (anyone can send them) are counted in aggregate (hub.web.flood)."""
    g.failure_audited = True
    current = current_session()
    if current is None:
        flood.record_failure(
            f"request.{request.endpoint or 'unknown'}",
            reason=reason,
            details={"method": request.method, "path": request.path[:200]},
        )
        return
    runtime().audit.record_failure(
        runtime().db,
        f"request.{request.endpoint or 'unknown'}",
        reason=reason,
        actor_user_id=current.user.id if current else None,
        context=audit_context(),
        details={"method": request.method, "path": request.path[:200]},
    )


def register(app: Flask) -> None:
    app.register_error_handler(HubError, handle_hub_error)
    app.register_error_handler(ratelimit.RateLimitExceeded, handle_rate_limited)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
