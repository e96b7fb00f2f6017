"""A small fake GitHub for tests and demos: OAuth authorize/token and the REST user endpoints,
served over real HTTP on 127.0.0.1 in a background thread.

    with FakeGitHub() as github:
        github.auto_sign_in = "ada"
        settings = github.provider_settings()     # a `github` provider's settings

It keeps GitHub's observed quirks (PROTOCOL-REFERENCE Part B): token errors with HTTP 200,
form-encoded answers unless `Accept: application/json`, comma-separated scopes, lowercase
`bearer`, PKCE S256 only, single-use rotating refresh tokens, `401 Bad credentials` for a
revoked grant. The rules every strict server shares (single-use codes, PKCE, token lifetimes,
misbehaviour switches) are the test kit's (`hub.testing.grants`, `hub.testing.misbehaviour`);
GitHub's answers and quirks are here. Values here are fakes, never real credentials.
"""

# ruff: noqa: S105 - every credential in this module is a fake for tests

from __future__ import annotations

import hmac
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from html import escape
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from hub.serving import LoopbackServer
from hub.testing.grants import FOREVER, CodeGrant, GrantRefused, Grants
from hub.testing.misbehaviour import Misbehaviours, canned_answer

CLIENT_ID = "Ov23liFakeHubClient01"
CLIENT_SECRET = "fake-github-client-secret-0123456789abcdef"
CODE_LIFETIME = 600
ACCESS_TOKEN_LIFETIME = 28800
REFRESH_TOKEN_LIFETIME = 15897600
ENDPOINTS = frozenset({"authorize", "token", "user", "emails", "revoke"})
MISBEHAVIOURS = frozenset(
    {
        "token_error",  # token endpoint: error= (default bad_verification_code), status= (default 200)
        "http_error",  # endpoint=: status= (default 502), HTML body
        "slow",  # endpoint=: wait seconds= before answering
        "authorize_error",  # authorize redirects back with error= (default access_denied)
        "canned",  # endpoint=: kind= html|invalid_json|empty (hub.testing.misbehaviour.canned_answer)
    }
)


@dataclass(frozen=True)
class GitHubUser:
    id: int
    login: str
    name: str | None
    emails: tuple[dict[str, Any], ...] = ()


def demo_users() -> list[GitHubUser]:
    return [
        GitHubUser(4242424, "ada", "Ada Example", (
            {"email": "ada@example.test", "primary": True, "verified": True, "visibility": "private"},
            {"email": "4242424+ada@users.noreply.github.com", "primary": False, "verified": True, "visibility": None},
        )),
        GitHubUser(583231, "octocat", "The Octocat", (
            {"email": "octocat@example.test", "primary": True, "verified": False, "visibility": "public"},
            {"email": "octo@example.test", "primary": False, "verified": True, "visibility": None},
        )),
        GitHubUser(7001, "grace", "Grace Hopper", (
            {"email": "grace@example.test", "primary": True, "verified": True, "visibility": "private"},
        )),
    ]  # fmt: skip


class FakeGitHub:
    """GitHub's OAuth web flow and `/user`, `/user/emails`, token revocation, on 127.0.0.1."""

    def __init__(
        self, users: list[GitHubUser] | None = None, *, expiring_tokens: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        """`expiring_tokens`: issue 8-hour tokens with single-use refresh tokens (GitHub App
        user tokens, or OAuth apps that opted in); False gives classic non-expiring tokens."""
        self.users = {user.id: user for user in (users or demo_users())}
        self.expiring_tokens = expiring_tokens
        self.clock = clock
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.requests: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._auto_sign_in: str | None = None
        self.grants: Grants[int] = Grants(
            clock=lambda: self.clock(),  # late-bound: a test may swap the clock
            code_lifetime=CODE_LIFETIME,
            prefixes=("", "ghu_" if expiring_tokens else "gho_", "ghr_"),
        )
        """Codes and tokens, held by GitHub user id (a rename replaces the user, not the id)."""
        self.misbehaviours = Misbehaviours(MISBEHAVIOURS, ENDPOINTS)
        self.browser_verify: bool | str = True
        """What the person's browser trusts: a CA bundle once the fake serves HTTPS."""
        self._server: LoopbackServer | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        if self._server is None:
            self._server = LoopbackServer(_app(self), name="fake-github").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: str) -> None:
        """Answer HTTPS with `context`'s certificate from now on, on a new port (the conformance
        kit's TLS check); the browser trusts `browser_bundle`."""
        self.stop()
        self._server = LoopbackServer(_app(self), name="fake-github", ssl_context=context).start()
        self.browser_verify = str(browser_bundle)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return self._server.base_url

    def provider_settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings for a `github` provider pointed at this fake (web and API on one host)."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "web_base_url": self.base_url,
            "api_base_url": f"{self.base_url}/api",
            **overrides,
        }

    # --- control API for tests ------------------------------------------------------------

    @property
    def auto_sign_in(self) -> str | None:
        return self._auto_sign_in

    @auto_sign_in.setter
    def auto_sign_in(self, login: str | None) -> None:
        """Approve every authorize call at once for this login, skipping the page."""
        if login is not None:
            self.user_by_login(login)
        self._auto_sign_in = login

    def user_by_login(self, login: str) -> GitHubUser:
        for user in self.users.values():
            if user.login.lower() == login.lower():
                return user
        raise ValueError(f"no such fake GitHub user: {login}")

    def rename(self, login: str, new_login: str) -> None:
        user = self.user_by_login(login)
        with self._lock:
            self.users[user.id] = replace(user, login=new_login)

    def change_email(self, login: str, email: str) -> None:
        """Make `email` the person's only, primary and verified address."""
        user = self.user_by_login(login)
        with self._lock:
            self.users[user.id] = replace(user, emails=({"email": email, "primary": True, "verified": True, "visibility": None},))

    def unverify_emails(self, login: str) -> None:
        """GitHub reports every address of the person as not verified."""
        user = self.user_by_login(login)
        with self._lock:
            self.users[user.id] = replace(user, emails=tuple({**e, "verified": False} for e in user.emails))

    def revoke_app(self, login: str) -> None:
        """The person revoked the OAuth app: every token of theirs stops working."""
        user_id = self.user_by_login(login).id
        self.grants.revoke_person(lambda held_by: held_by == user_id)

    def misbehave(self, name: str, *, times: int | None = 1, **options: Any) -> None:
        if name not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {name!r}; one of {sorted(MISBEHAVIOURS)}")
        if name in {"http_error", "slow", "canned"} and options.get("endpoint") not in ENDPOINTS:
            raise ValueError(f"{name} needs endpoint= one of {sorted(ENDPOINTS)}")
        self.misbehaviours.arm(name, times=times, **options)

    def take(self, name: str, endpoint: str | None = None) -> dict[str, Any] | None:
        armed = self.misbehaviours.take(name, endpoint)
        return armed.options if armed is not None else None

    # --- OAuth ----------------------------------------------------------------------------

    def issue_code(self, user: GitHubUser, args: dict[str, str]) -> str:
        grant = CodeGrant(user.id, args.get("redirect_uri") or None, args.get("code_challenge"), args.get("scope", ""))
        return self.grants.issue_code(grant)

    def redeem(self, form: dict[str, str]) -> dict[str, Any]:
        """A token answer, or a GitHub error body ({"error": ...})."""
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            form.get("client_secret", ""), self.client_secret
        ):
            return _error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
        if form.get("grant_type") == "refresh_token":
            return self._redeem_refresh(form.get("refresh_token", ""))
        try:
            grant = self.grants.redeem_code(form.get("code", ""), form.get("redirect_uri"), form.get("code_verifier"))
        except GrantRefused as refused:
            if refused.reason == "redirect_uri":
                return _error("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
            return _error("bad_verification_code", "The code passed is incorrect or expired.")
        return self._tokens(grant.person, grant.scope)

    def _redeem_refresh(self, refresh_token: str) -> dict[str, Any]:
        held = self.grants.spend_refresh(refresh_token)  # single use: spent even if it fails later
        if held is None:
            return _error("bad_refresh_token", "The refresh token passed is incorrect or expired.")
        return self._tokens(held.person, held.scope)

    def _tokens(self, user_id: int, scope: str) -> dict[str, Any]:
        lifetime = ACCESS_TOKEN_LIFETIME if self.expiring_tokens else FOREVER
        access = self.grants.issue_access(user_id, scope, lifetime)
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "scope": ",".join(scope.split())}
        if self.expiring_tokens:
            refresh = self.grants.issue_refresh(user_id, scope, REFRESH_TOKEN_LIFETIME)
            body.update(expires_in=ACCESS_TOKEN_LIFETIME, refresh_token=refresh, refresh_token_expires_in=REFRESH_TOKEN_LIFETIME)
        return body

    def user_for(self, authorization: str | None) -> GitHubUser | None:
        token = (authorization or "").removeprefix("Bearer ").removeprefix("token ").strip()
        user_id = self.grants.holder(token)
        return self.users.get(user_id) if user_id is not None else None


def _error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description, "error_uri": f"https://docs.github.com/apps/troubleshooting#{error}"}


def _app(github: FakeGitHub) -> Flask:
    app = Flask("hub_github.fake")

    @app.before_request
    def misbehave() -> Any:
        endpoint = _endpoint(request.path)
        if endpoint is None:
            return None
        github.requests[endpoint] += 1
        slow = github.take("slow", endpoint)
        if slow is not None:
            time.sleep(float(slow.get("seconds", 1)))
        failure = github.take("http_error", endpoint)
        if failure is not None:
            return "<html><body>Unicorn! GitHub is having trouble.</body></html>", int(failure.get("status", 502))
        canned = github.take("canned", endpoint)
        return canned_answer(canned["kind"], 0) if canned is not None else None

    @app.get("/login/oauth/authorize")
    def authorize() -> Any:
        args = request.args.to_dict()
        if args.get("client_id") != github.client_id:
            return "<h1>404: unknown OAuth app</h1>", 404
        if "code_challenge" in args and args.get("code_challenge_method") != "S256":
            return "<h1>PKCE: only S256 is supported</h1>", 400
        failure = github.take("authorize_error")
        if failure is not None:
            return _back(args, {"error": failure.get("error", "access_denied"), "error_description": "The user has denied your application access."})
        if github.auto_sign_in:
            return _back(args, {"code": github.issue_code(github.user_by_login(github.auto_sign_in), args)})
        buttons = "".join(
            f'<form method="post" action="/login/oauth/authorize/approve?{escape(urlencode(args))}">'
            f'<input type="hidden" name="user" value="{user.id}"><button>Authorize as {escape(user.name or user.login)}</button></form>'
            for user in github.users.values()
        )
        return f"<!doctype html><title>Authorize application</title><h1>Authorize the hub</h1>{buttons}"

    @app.post("/login/oauth/authorize/approve")
    def approve() -> Any:
        args = request.args.to_dict()
        user = github.users.get(int(request.form.get("user", "0")))
        if user is None:
            return "<h1>unknown user</h1>", 400
        return _back(args, {"code": github.issue_code(user, args)})

    @app.post("/login/oauth/access_token")
    def token() -> Response:
        form = {**request.args.to_dict(), **request.form.to_dict()}
        failure = github.take("token_error")
        if failure is not None:
            body = _error(failure.get("error", "bad_verification_code"), "A misbehaviour asked for this error.")
            status = int(failure.get("status", 200))
        else:
            body, status = github.redeem(form), 200
        if "application/json" in request.headers.get("Accept", ""):
            response = jsonify(body)
        else:  # GitHub's default: form-encoded
            response = Response(urlencode(body), mimetype="application/x-www-form-urlencoded")
        response.status_code = status
        return response

    @app.get("/api/user")
    def user() -> Any:
        found = github.user_for(request.headers.get("Authorization"))
        if found is None:
            return _bad_credentials()
        return jsonify({"login": found.login, "id": found.id, "node_id": f"U_{found.id}", "name": found.name,
                        "email": None, "type": "User", "html_url": f"{github.base_url}/{found.login}",
                        "avatar_url": f"{github.base_url}/avatars/{found.id}"})  # fmt: skip

    @app.get("/api/user/emails")
    def emails() -> Any:
        found = github.user_for(request.headers.get("Authorization"))
        if found is None:
            return _bad_credentials()
        return jsonify(list(found.emails))

    @app.delete("/api/applications/<client_id>/token")
    def revoke_token(client_id: str) -> Any:
        token = (request.get_json(silent=True) or {}).get("access_token", "")
        github.grants.access.pop(token, None)
        return "", 204

    @app.get("/api/meta")
    def meta() -> Any:
        return jsonify({"verifiable_password_authentication": False})

    return app


def _endpoint(path: str) -> str | None:
    return {
        "/login/oauth/authorize": "authorize",
        "/login/oauth/access_token": "token",
        "/api/user": "user",
        "/api/user/emails": "emails",
    }.get(path) or ("revoke" if path.startswith("/api/applications/") else None)


def _back(args: dict[str, str], params: dict[str, str]) -> Any:
    if "state" in args:
        params["state"] = args["state"]
    target = args.get("redirect_uri") or "/"
    separator = "&" if "?" in target else "?"
    return redirect(f"{target}{separator}{urlencode(params)}", code=302)


def _bad_credentials() -> Any:
    return jsonify({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}), 401
