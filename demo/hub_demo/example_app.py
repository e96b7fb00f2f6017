"""The demo's example application: a standard OpenID Connect client of the hub, built with
Authlib's Flask client, with RP-initiated logout and a back-channel logout receiver.

It knows the hub only as an issuer URL (discovery), so it is also the downstream application of
the end-to-end tests, and the worked "Flask app with Authlib" of docs/applications.md.

Sessions are server-side (in this process's memory) because a back-channel logout arrives from
the hub's server, not from the person's browser: the receiver must find and end the sessions
of the hub session the logout token names (`sid`), which a cookie-only session cannot do.
Cookies are per host, not per port, so every cookie name carries the app's `slug`: two
example apps on 127.0.0.1 (and the hub) never overwrite each other's cookies.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request, session
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_ALGORITHMS = ("RS256", "ES256")
LOGOUT_TOKEN_MAX_AGE = 300
"""Seconds a logout token's `iat` may lie in the past (or the future, for clock skew)."""
SEEN_JTI_LIMIT = 10_000
"""Logout token ids remembered against replay; bounded, oldest forgotten first."""
HTTP_TIMEOUT = (3.05, 10.0)
REFRESH_EVERY = 10.0
"""Seconds between the example's refreshes of its hub tokens (at a page view), so the demo shows a
leaver signed out within the hub's upstream_check_seconds."""


@dataclass
class LocalSession:
    """One browser signed in to this application."""

    claims: dict[str, Any]
    id_token: str
    access_token: str | None
    refresh_token: str | None
    created: float = field(default_factory=time.time)
    refreshed: float = field(default_factory=time.time)

    @property
    def sid(self) -> str | None:
        return self.claims.get("sid")

    @property
    def sub(self) -> str | None:
        return self.claims.get("sub")


class SessionStore:
    """The app's sessions in memory, found by cookie value or by the hub's `sid`/`sub`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, LocalSession] = {}
        self._seen_jti: OrderedDict[str, None] = OrderedDict()
        self.ended_by_backchannel = 0
        """How many sessions back-channel logouts ended (tests and the demo page show it)."""

    def create(self, local: LocalSession) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[token] = local
        return token

    def get(self, token: str | None) -> LocalSession | None:
        if not token:
            return None
        with self._lock:
            return self._sessions.get(token)

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def end_matching(self, *, sid: str | None, sub: str | None) -> int:
        """End the sessions of one hub session (`sid`), narrowed to `sub` when both are given;
        with `sub` alone, every session of that person."""
        with self._lock:
            doomed = [
                token
                for token, local in self._sessions.items()
                if (sid is None or local.sid == sid) and (sub is None or local.sub == sub)
            ]
            for token in doomed:
                del self._sessions[token]
            self.ended_by_backchannel += len(doomed)
        return len(doomed)

    def first_use_of(self, jti: str) -> bool:
        """True the first time a logout token id is seen (a replayed token is refused)."""
        with self._lock:
            if jti in self._seen_jti:
                return False
            self._seen_jti[jti] = None
            while len(self._seen_jti) > SEEN_JTI_LIMIT:
                self._seen_jti.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


class LogoutTokenInvalid(Exception):
    """The back-channel logout token fails Back-Channel Logout 1.0 section 2.6."""


def create_example_app(
    *,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    base_url: str,
    name: str = "Example app",
    slug: str = "example",
    scope: str = "openid profile email",
) -> Flask:
    """A Flask app that signs people in through the OpenID Provider at `issuer`.

    Register it with redirect URI `{base_url}/callback`, post-logout redirect URI
    `{base_url}/`, and back-channel logout URI `{base_url}/backchannel-logout`.
    """
    app = Flask(f"example_app_{slug}")
    app.config.update(
        SECRET_KEY=secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME=f"{slug}_flask",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    base_url = base_url.rstrip("/")
    cookie = f"{slug}_session"
    store = SessionStore()
    app.extensions["example_app"] = store

    oauth = OAuth(app)
    oauth.register(
        "hub",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={
            "scope": scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic" if client_secret else "none",
            "timeout": HTTP_TIMEOUT,
        },
    )
    hub = oauth.create_client("hub")

    def current() -> LocalSession | None:
        return store.get(request.cookies.get(cookie))

    def refreshed_or_ended(local: LocalSession) -> LocalSession | None:
        """Refresh the hub's tokens when they are older than REFRESH_EVERY, as a real application
        does before its access token expires; a refusal (the person left, issue 19) ends the
        local session."""
        if local.refresh_token is None or time.time() - local.refreshed < REFRESH_EVERY:
            return local
        answer = requests.post(
            hub.load_server_metadata()["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": local.refresh_token},
            auth=(client_id, client_secret or ""), timeout=HTTP_TIMEOUT,
        )
        if answer.status_code == 400:
            store.end(request.cookies.get(cookie))
            return None
        if answer.status_code == 200:
            body = answer.json()
            local.access_token, local.refresh_token = body.get("access_token"), body.get("refresh_token", local.refresh_token)
            local.refreshed = time.time()
        return local

    @app.get("/")
    def home() -> str:
        local = current()
        if local is not None:
            local = refreshed_or_ended(local)
        return render_template_string(
            PAGE,
            name=name,
            local=local,
            issuer=issuer,
            scope=scope.split(),
            error=request.args.get("error"),
            signed_out=request.args.get("signed_out"),
            visible_claims={key: local.claims.get(key) for key in SHOWN_CLAIMS if key in local.claims} if local else {},
        )

    @app.get("/login")
    def login() -> Response:
        extra = {key: request.args[key] for key in ("prompt", "max_age", "login_hint") if request.args.get(key)}
        return hub.authorize_redirect(f"{base_url}/callback", **extra)

    @app.get("/callback")
    def callback() -> Response:
        try:
            _check_response_issuer(hub)
            token = hub.authorize_access_token()
        except OAuthError as error:
            return redirect(f"{base_url}/?{urlencode({'error': error.error or 'sign_in_failed'})}")
        claims = dict(token.get("userinfo") or {})
        local = LocalSession(
            claims=claims,
            id_token=token["id_token"],
            access_token=token.get("access_token"),
            refresh_token=token.get("refresh_token"),
        )
        store.end(request.cookies.get(cookie))  # a new session id at every sign-in
        response = redirect(f"{base_url}/")
        response.set_cookie(cookie, store.create(local), httponly=True, samesite="Lax", path="/")
        return response

    @app.post("/logout")
    def logout() -> Response:
        """End the local session, then RP-initiated logout at the hub (which ends the hub
        session and, by back-channel, the other applications' sessions)."""
        local = current()
        store.end(request.cookies.get(cookie))
        if local is None:
            response = redirect(f"{base_url}/")
        else:
            response = hub.logout_redirect(post_logout_redirect_uri=f"{base_url}/", id_token_hint=local.id_token)
        response.delete_cookie(cookie, path="/")
        return response

    @app.post("/backchannel-logout")
    def backchannel_logout() -> tuple[Response, int]:
        """Back-Channel Logout 1.0 section 2.5-2.8: 200 when the token is valid (whether or not
        a session matched), 400 otherwise; never cached."""
        token = request.form.get("logout_token", "")
        try:
            claims = validate_logout_token(hub, token, issuer=issuer, client_id=client_id)
        except LogoutTokenInvalid as error:
            return _no_store(jsonify(error="invalid_request", error_description=str(error))), 400
        if not store.first_use_of(claims["jti"]):
            return _no_store(jsonify(error="invalid_request", error_description="logout token replayed")), 400
        store.end_matching(sid=claims.get("sid"), sub=claims.get("sub") if not claims.get("sid") else None)
        return _no_store(jsonify({})), 200

    @app.get("/whoami")
    def whoami() -> tuple[Response, int]:
        """The session as JSON, for scripts and tests: 401 when signed out."""
        local = current()
        if local is None:
            return jsonify(signed_in=False), 401
        return jsonify(signed_in=True, sub=local.sub, sid=local.sid, claims=local.claims), 200

    @app.get("/provider-token")
    def provider_token() -> tuple[Response, int]:
        """Ask the hub for the person's upstream access token (scope `provider_tokens`) and
        show only what it is good for, never the token itself."""
        local = current()
        if local is None or not local.access_token:
            abort(401)
        provider = request.args.get("provider", "entra")
        answer = requests.get(
            f"{issuer.rstrip('/')}/api/v1/me/provider-token",
            params={"provider": provider},
            headers={"Authorization": f"Bearer {local.access_token}"},
            timeout=HTTP_TIMEOUT,
        )
        body = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
        shown = {key: value for key, value in body.items() if key != "access_token"}
        shown["access_token_received"] = bool(body.get("access_token"))
        return jsonify(status=answer.status_code, answer=shown), 200

    return app


def validate_logout_token(client: Any, token: str, *, issuer: str, client_id: str) -> dict[str, Any]:
    """The logout token's claims after every check of Back-Channel Logout 1.0 section 2.6:
    signature by a key of the issuer's JWKS (RS256/ES256, never `none`), `typ` when present,
    `iss`, `aud`, `iat` recent, `exp` not passed, `jti`, the back-channel event, `sid` or `sub`,
    and no `nonce`."""
    if not token or len(token) > 16_384:
        raise LogoutTokenInvalid("logout_token is required")
    registry = JWSRegistry(algorithms=list(LOGOUT_TOKEN_ALGORITHMS))
    try:
        try:
            decoded = jwt.decode(token, KeySet.import_key_set(client.fetch_jwk_set()), registry=registry)
        except InvalidKeyIdError:  # the hub rotated its key: fetch the JWKS again, once
            decoded = jwt.decode(token, KeySet.import_key_set(client.fetch_jwk_set(force=True)), registry=registry)
    except (JoseError, ValueError) as error:
        raise LogoutTokenInvalid(f"logout token signature or format: {error}") from None
    typ = decoded.header.get("typ")
    if typ is not None and typ.lower() not in {"logout+jwt", "application/logout+jwt", "jwt"}:
        raise LogoutTokenInvalid(f"logout token typ {typ!r}")
    claims = decoded.claims
    now = time.time()
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    events = claims.get("events")
    problems = [
        (claims.get("iss") != issuer, "iss is not the issuer"),
        (client_id not in audiences, "aud does not name this application"),
        (not isinstance(claims.get("iat"), int | float) or abs(now - claims["iat"]) > LOGOUT_TOKEN_MAX_AGE, "iat missing or not recent"),
        (isinstance(claims.get("exp"), int | float) and claims["exp"] < now - 60, "token expired"),
        (not isinstance(claims.get("jti"), str) or not claims["jti"], "jti missing"),
        (not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict), "back-channel logout event missing"),
        (not claims.get("sid") and not claims.get("sub"), "neither sid nor sub"),
        ("nonce" in claims, "a logout token must not carry a nonce"),
    ]
    for failed, message in problems:
        if failed:
            raise LogoutTokenInvalid(message)
    return dict(claims)


def _check_response_issuer(client: Any) -> None:
    """RFC 9207: an authorization response's `iss` must be the issuer this app talks to."""
    iss = request.args.get("iss")
    if iss is not None and iss != client.load_server_metadata().get("issuer"):
        session.clear()
        raise OAuthError(error="issuer_mismatch", description="the authorization response came from another issuer")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


SHOWN_CLAIMS = ("sub", "name", "email", "email_verified", "roles", "idp", "sid", "auth_time", "amr", "acr")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ name }}</title>{% if local %}<meta http-equiv="refresh" content="5">{% endif %}
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}
button,.button{font:inherit;padding:.4rem 1rem}</style></head>
<body>
<h1>{{ name }}</h1>
{% if error %}<p role="alert">Sign-in did not complete: {{ error }}.</p>{% endif %}
{% if local %}
  <p id="status">Signed in as <strong>{{ local.claims.get('name') or local.sub }}</strong> through the hub.</p>
  <table>{% for key, value in visible_claims.items() %}<tr><th>{{ key }}</th><td>{{ value }}</td></tr>{% endfor %}</table>
  {% if 'provider_tokens' in scope %}<p><a href="/provider-token?provider=entra">Ask the hub for my Microsoft access token</a> (the answer says when it expires; the token itself is not shown)</p>{% endif %}
  <form method="post" action="/logout"><p><button type="submit">Sign out</button></p></form>
{% else %}
  <p id="status">You are not signed in.</p>
  <p><a class="button" href="/login">Sign in with Identity Hub</a></p>
{% endif %}
<p><small>An example application of the hub at {{ issuer }}: OpenID Connect with Authlib's Flask client.</small></p>
</body></html>
"""
