"""Browser-facing protections: the browser-binding cookie, CSRF tokens and security headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from hub.core.errors import CsrfError

CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors {frame_ancestors}"
)


def cookie_name(base: str, https: bool) -> str:
    """`__Host-` names on https: the browser then insists on Secure, Path=/ and no Domain."""
    return f"__Host-{base}" if https else base


def browser_token(app: Flask) -> str:
    """The random value binding CSRF tokens and pending sign-ins to this browser."""
    name = app.config["HUB_BROWSER_COOKIE"]
    token = request.cookies.get(name, "")
    if not (20 <= len(token) <= 64):
        token = g.get("new_browser_token") or secrets.token_urlsafe(24)
        g.new_browser_token = token
    return token


def csrf_token(app: Flask) -> str:
    mac = hmac.new(app.config["HUB_SECRET"], b"csrf\n" + browser_token(app).encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def check_csrf(app: Flask) -> None:
    """Refuse a state-changing browser request without this browser's token or from another origin."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and _origin(origin) != _origin(app.config["HUB_BASE_URL"]):
        raise CsrfError("This form was sent from another site.", code="csrf_origin")
    if request.cookies.get(app.config["HUB_BROWSER_COOKIE"]) is None:
        raise CsrfError("This form was sent without this browser's cookie.", code="csrf_cookie")
    sent = request.form.get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent, csrf_token(app)):
        raise CsrfError("This form's security token is missing or wrong.", code="csrf_token")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def apply_headers(app: Flask, response: Response) -> Response:
    """Headers every response carries, error pages included."""
    headers = response.headers
    headers["Content-Security-Policy"] = CSP.format(frame_ancestors=g.get("frame_ancestors", "'none'"))
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if g.get("frame_ancestors") is None:
        headers["X-Frame-Options"] = "DENY"
    if g.get("no_store") or g.get("current_session") is not None:
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if app.config["HUB_HTTPS"]:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    new_token = g.get("new_browser_token")
    if new_token:
        response.set_cookie(
            app.config["HUB_BROWSER_COOKIE"],
            new_token,
            httponly=True,
            secure=app.config["HUB_HTTPS"],
            samesite="Lax",
            path="/",
        )
    return response
