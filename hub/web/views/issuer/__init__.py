"""The OpenID Provider's endpoints, blueprint `issuer`: discovery and keys, authorize (with the
sign-in and consent pages), token, userinfo, revocation, introspection and end-session.

Each protocol endpoint runs in one write transaction (hub.web.views.issuer.transaction, the
issuer's exchange of hub.issuer.context) and records its audit events as that transaction's last
statements. Errors are the RFC's: a redirect to a registered redirect URI with `error`, `state`
and `iss`, JSON at the back-channel endpoints, or a page when there is no trustworthy place to
send the browser. Never a 500 for bad input.
"""

from __future__ import annotations

from hub.web.views.issuer import authorize, discovery, end_session, endpoints
from hub.web.views.issuer.authorize import MAX_RESUME_LENGTH
from hub.web.views.issuer.blueprint import bp
from hub.web.views.issuer.discovery import PUBLIC_ENDPOINTS, metadata
from hub.web.views.issuer.endpoints import application_of_request

__all__ = [
    "MAX_RESUME_LENGTH",
    "PUBLIC_ENDPOINTS",
    "application_of_request",
    "authorize",
    "bp",
    "discovery",
    "end_session",
    "endpoints",
    "metadata",
]
