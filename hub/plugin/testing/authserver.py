"""A generic fake OAuth 2.0 / OpenID Connect authorization server on 127.0.0.1, for provider
plugins' tests: so a GitLab or Google plugin tests against real HTTP without writing a fake.

    with FakeAuthorizationServer(openid=False, profile_path="/api/v4/user",
                                 profile=gitlab_profile) as server:
        settings = server.client_settings()          # client_id, client_secret, endpoints
        params = server.approve(authorization_url, "alice")   # the callback's query

What it enforces, like a strict real server: registered client credentials
(`client_secret_basic` and/or `client_secret_post`), PKCE S256 (plain is refused), the
redirect URI of the authorization request, single-use codes, refresh-token rotation (a spent
refresh token is `invalid_grant`), RFC 7009 revocation, a bearer-protected profile endpoint,
and, with `openid=True`, discovery, JWKS, signed ID tokens with nonce and RFC 9207 `iss` on
the authorization response.

What it can do wrong on purpose, at a chosen endpoint (`misbehave(endpoint, kind)`):
`server_error` (502 with an HTML body), `timeout` (answers after `slow_seconds`), `html`
(200 with an HTML page), `invalid_json`, `empty` (200 with no body), `unauthorized` (401), and for the token endpoint's ID
token `wrong_issuer`, `wrong_audience`, `wrong_nonce`; `deny_next()` makes the authorization
endpoint answer `error=access_denied`. People can be renamed, blocked or lose their verified
email, to check that a provider keys on the immutable id and reports what the server says.

Values here are fakes, never real credentials.
"""

# ruff: noqa: S105 - every credential in this module is a fake for tests

from __future__ import annotations

import base64
import functools
import hmac
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import request
from joserfc import jws
from joserfc.jwk import RSAKey

from hub.plugin.testing.authserver_app import build_app
from hub.plugin.testing.grants import GrantRefused, Grants
from hub.plugin.testing.misbehaviour import Misbehaviours
from hub.plugin.testing.people import Person, default_people, oauth2_profile, openid_profile
from hub.serving import LoopbackServer

CLIENT_ID = "hub-test-client"
CLIENT_SECRET = "hub-test-client-secret-0123456789"
ENDPOINTS = ("authorize", "token", "profile", "revoke", "discovery", "jwks")
"""Endpoint names `misbehave` and `requests` use."""
KINDS = ("server_error", "timeout", "html", "invalid_json", "empty", "unauthorized", "wrong_issuer", "wrong_audience", "wrong_nonce")
"""What `misbehave` can make an endpoint do; the last three apply to the token endpoint's ID token."""
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
KEY_ID = "fake-as-key-1"


@functools.cache
def _signing_key() -> RSAKey:
    """One RSA key per process: generating one per server would slow every test."""
    return RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "alg": "RS256", "use": "sig"})


class FakeAuthorizationServer:
    """A configurable OAuth 2.0 / OpenID Connect server; see the module docstring."""

    def __init__(
        self,
        people: Iterable[Person] | None = None,
        *,
        openid: bool = True,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        client_auth: Iterable[str] = CLIENT_AUTH_METHODS,
        profile_path: str | None = None,
        profile: Callable[[Person], Mapping[str, Any]] | None = None,
        rotate_refresh_tokens: bool = True,
        access_token_lifetime: int = 3600,
        slow_seconds: float = 1.5,
        redirect_uris: Iterable[str] | None = None,
    ) -> None:
        """`profile_path` defaults to `/userinfo` (openid) or `/user`; `profile(person)` shapes
        its JSON body (defaults: `openid_profile`, `oauth2_profile`). `redirect_uris`, when
        given, is the only set the authorization endpoint accepts. `slow_seconds` is how long a
        `timeout` misbehaviour waits: longer than the client's read timeout."""
        self.people = {person.username: person for person in (people or default_people())}
        self.openid = openid
        self.client_id = client_id
        self.client_secret = client_secret
        self.client_auth = tuple(client_auth)
        unknown = set(self.client_auth) - set(CLIENT_AUTH_METHODS)
        if unknown:
            raise ValueError(f"client_auth: unknown methods {sorted(unknown)}; use {CLIENT_AUTH_METHODS}")
        self.profile_path = profile_path or ("/userinfo" if openid else "/user")
        self.profile = profile or (openid_profile if openid else oauth2_profile)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.access_token_lifetime = access_token_lifetime
        self.slow_seconds = slow_seconds
        self.redirect_uris = set(redirect_uris) if redirect_uris is not None else None
        self.requests: Counter[str] = Counter()
        """Requests received per endpoint name (`ENDPOINTS`), misbehaving ones included."""
        self.revoked: list[str] = []
        """Kinds (`access_token`, `refresh_token`) of tokens revoked, in order."""
        self.next_user: str | None = None
        self._deny: tuple[str, str] | None = None
        self._lock = threading.RLock()
        self.grants: Grants[Person] = Grants(prefixes=("fake-code-", "fake-at-", "fake-rt-"))
        """Codes and tokens handed out (the kit's generic rules: single use, PKCE S256, rotation)."""
        self.misbehaviours = Misbehaviours(KINDS, ENDPOINTS)
        self.browser_verify: bool | str = True
        """What the person's browser (`approve`) trusts: a CA bundle once the server is on HTTPS."""
        self._server = LoopbackServer(name="fake-authorization-server")
        self._server.app = build_app(self)

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, and the issuer with `openid=True`."""
        return self._server.base_url

    issuer = url

    def start(self) -> FakeAuthorizationServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: str | Path) -> None:
        """From now on answer HTTPS with `context`'s certificate, on a new port (so `url` and
        every endpoint change, and no connection made before is reused); the browser of
        `approve` trusts `browser_bundle`. The kit's TLS check (`hub.testing.tls`) uses it."""
        self._server.stop()
        self._server = LoopbackServer(build_app(self), name="fake-authorization-server", ssl_context=context).start()
        self.browser_verify = str(browser_bundle)

    def __enter__(self) -> FakeAuthorizationServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what a test configures a provider with ---------------------------------------------

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.url}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/token"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.url}/revoke"

    @property
    def profile_endpoint(self) -> str:
        return f"{self.url}{self.profile_path}"

    def client_settings(self) -> dict[str, str]:
        """The client credentials and every endpoint, under the names most plugins use."""
        settings = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "profile_endpoint": self.profile_endpoint,
        }
        if self.openid:
            settings["issuer"] = self.issuer
        return settings

    # --- acting as the person in the browser --------------------------------------------------

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        """Sign in as `user` at the authorization endpoint; returns the callback's query."""
        with self._lock:
            self.next_user = user
        response = requests.get(authorization_url, allow_redirects=False, timeout=10, verify=self.browser_verify)
        if response.status_code != 302:
            raise AssertionError(f"the authorization endpoint answered {response.status_code}: {response.text[:300]}")
        return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}

    def deny_next(self, error: str = "access_denied", description: str = "The user declined.") -> None:
        """The next authorization request is answered with `error=` (RFC 6749 §4.1.2.1)."""
        with self._lock:
            self._deny = (error, description)

    # --- changing people ------------------------------------------------------------------------

    def person(self, user: str) -> Person:
        return self.people[user]

    def rename(self, user: str, username: str) -> None:
        """Change a person's login name; `user` stays the key `approve` uses."""
        with self._lock:
            self.people[user].username = username

    def change_email(self, user: str, email: str, verified: bool = True) -> None:
        with self._lock:
            self.people[user].email = email
            self.people[user].email_verified = verified

    def block(self, user: str, state: str = "blocked") -> None:
        with self._lock:
            self.people[user].state = state

    # --- misbehaviour ---------------------------------------------------------------------------

    def misbehave(self, endpoint: str, kind: str, times: int = 1) -> None:
        """Make the next `times` requests to `endpoint` misbehave as `kind`."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint {endpoint!r}: expected one of {ENDPOINTS}")
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: expected one of {KINDS}")
        self.misbehaviours.arm(kind, times=times, endpoint=endpoint)

    def _take(self, endpoint: str) -> str | None:
        armed = self.misbehaviours.take(endpoint=endpoint)
        return armed.name if armed is not None else None

    @property
    def token_calls(self) -> int:
        return self.requests["token"]

    # --- tokens ---------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The JWKS the server publishes: the public half of its one signing key."""
        return {"keys": [_signing_key().as_dict(private=False)]}

    def id_token(self, person: Person, *, nonce: str | None, kind: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://wrong-issuer.example.test" if kind == "wrong_issuer" else self.issuer,
            "aud": "someone-else" if kind == "wrong_audience" else self.client_id,
            "sub": person.subject, "iat": now, "exp": now + 600, "sid": f"sid-{person.subject}",
            "name": person.name, "preferred_username": person.username,
            "email": person.email, "email_verified": person.email_verified, **person.claims,
        }  # fmt: skip
        if nonce is not None:
            claims["nonce"] = "not-the-nonce-sent" if kind == "wrong_nonce" else nonce
        return jws.serialize_compact({"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}, json.dumps(claims).encode(), _signing_key())

    def _issue(self, person: Person, scope: str, nonce: str | None, kind: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": self.grants.issue_access(person, scope), "token_type": "Bearer",
                                "expires_in": self.access_token_lifetime,
                                "refresh_token": self.grants.issue_refresh(person, scope), "scope": scope}  # fmt: skip
        if self.openid:
            body["id_token"] = self.id_token(person, nonce=nonce, kind=kind)
            with self.grants.lock:
                self.grants.issued.append(body["id_token"])
        return body

    def _client_ok(self, form: Mapping[str, str]) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic ") and "client_secret_basic" in self.client_auth:
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
        elif "client_secret" in form and "client_secret_post" in self.client_auth:
            client_id, secret = form.get("client_id", ""), form["client_secret"]
        else:
            return False
        return client_id == self.client_id and hmac.compare_digest(secret.encode(), self.client_secret.encode())

    def _redeem_code(self, form: Mapping[str, str], kind: str | None) -> tuple[int, dict[str, Any]]:
        try:
            grant = self.grants.redeem_code(form.get("code", ""), form.get("redirect_uri"), form.get("code_verifier"))
        except GrantRefused as refused:
            return 400, {"error": "invalid_grant", "error_description": _REFUSALS[refused.reason]}
        return 200, self._issue(grant.person, grant.scope, grant.nonce, kind)

    def _redeem_refresh(self, form: Mapping[str, str], kind: str | None) -> tuple[int, dict[str, Any]]:
        token = form.get("refresh_token", "")
        if self.rotate_refresh_tokens:
            found = self.grants.spend_refresh(token)
        else:
            found = self.grants.find_refresh(token)
        if found is None:
            return 400, {"error": "invalid_grant", "error_description": "The refresh token is unknown, spent or revoked."}
        body = self._issue(found.person, found.scope, None, kind)
        if not self.rotate_refresh_tokens:
            self.grants.revoke(body["refresh_token"])
            body["refresh_token"] = token
        return 200, body


_REFUSALS = {
    "unknown": "The code is unknown, used or expired.",
    "redirect_uri": "redirect_uri differs from the authorization request.",
    "pkce": "PKCE verification failed.",
}


__all__ = [
    "CLIENT_AUTH_METHODS",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "ENDPOINTS",
    "KINDS",
    "FakeAuthorizationServer",
    "Person",
    "default_people",
    "oauth2_profile",
    "openid_profile",
]
