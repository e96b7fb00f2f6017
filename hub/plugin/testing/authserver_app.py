"""The HTTP side of `FakeAuthorizationServer`: one small Flask view per endpoint (discovery,
JWKS, authorize, token, revoke, profile), each applying the misbehaviour armed for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from hub.plugin.testing.grants import CodeGrant
from hub.plugin.testing.misbehaviour import canned_answer

if TYPE_CHECKING:
    from hub.plugin.testing.authserver import FakeAuthorizationServer


def build_app(server: FakeAuthorizationServer) -> Flask:  # noqa: C901 - one small view per endpoint
    """The Flask app answering for `server`: each view counts the request, applies an armed
    misbehaviour, then answers as a strict server does."""
    app = Flask("fake-authorization-server")

    def enter(endpoint: str) -> tuple[str | None, Response | None]:
        server.requests[endpoint] += 1
        kind = server._take(endpoint)
        return kind, canned_answer(kind, server.slow_seconds)

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        kind, answer = enter("discovery")
        if answer is not None:
            return answer
        if not server.openid:
            return jsonify(error="not_found"), 404
        issuer = "https://wrong-issuer.example.test" if kind == "wrong_issuer" else server.issuer
        return jsonify({
            "issuer": issuer,
            "authorization_endpoint": server.authorization_endpoint,
            "token_endpoint": server.token_endpoint,
            "userinfo_endpoint": server.profile_endpoint,
            "revocation_endpoint": server.revocation_endpoint,
            "jwks_uri": f"{server.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(server.client_auth),
            "authorization_response_iss_parameter_supported": True,
        })  # fmt: skip

    @app.get("/jwks")
    def jwks() -> Any:
        _, answer = enter("jwks")
        return answer or jsonify(server.jwks())

    @app.get("/authorize")
    def authorize() -> Any:
        _, answer = enter("authorize")
        if answer is not None:
            return answer
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if args.get("client_id") != server.client_id or not redirect_uri.startswith(("http://", "https://")):
            return Response("Unknown client or redirect URI.", 400, content_type="text/plain")
        if server.redirect_uris is not None and redirect_uri not in server.redirect_uris:
            return Response("This redirect URI is not registered.", 400, content_type="text/plain")
        back = {"state": args.get("state", "")}
        if server.openid:
            back["iss"] = server.issuer
        with server._lock:
            deny, server._deny = server._deny, None
            user, server.next_user = server.next_user, None
        problem = None
        if deny is not None:
            problem = deny
        elif args.get("response_type") != "code":
            problem = ("unsupported_response_type", "Only the code flow is supported.")
        elif args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            problem = ("invalid_request", "PKCE with S256 is required.")
        elif user is None or user not in server.people:
            problem = ("access_denied", "Nobody signed in (call approve(url, user)).")
        if problem is not None:
            return redirect(f"{redirect_uri}?{urlencode({**back, 'error': problem[0], 'error_description': problem[1]})}")
        code = server.grants.issue_code(CodeGrant(server.people[user], redirect_uri, args["code_challenge"],
                                                  args.get("scope", ""), args.get("nonce")))  # fmt: skip
        return redirect(f"{redirect_uri}?{urlencode({**back, 'code': code})}")

    @app.post("/token")
    def token() -> Any:
        kind, answer = enter("token")
        if answer is not None:
            return answer
        form = request.form.to_dict()
        if not server._client_ok(form):
            return jsonify(error="invalid_client", error_description="Client authentication failed."), 401
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            status, body = server._redeem_code(form, kind)
        elif grant_type == "refresh_token":
            status, body = server._redeem_refresh(form, kind)
        else:
            status, body = 400, {"error": "unsupported_grant_type"}
        response = jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post("/revoke")
    def revoke() -> Any:
        _, answer = enter("revoke")
        if answer is not None:
            return answer
        form = request.form.to_dict()
        if not server._client_ok(form):
            return jsonify(error="invalid_client"), 401
        revoked = server.grants.revoke(form.get("token", ""))
        if revoked is not None:
            server.revoked.append(revoked)
        return Response("", 200)  # RFC 7009 §2.2: 200 whether or not the token was known

    def profile() -> Any:
        _, answer = enter("profile")
        if answer is not None:
            return answer
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        person = server.grants.holder(token)
        if person is None:
            return canned_answer("unauthorized", 0)
        return jsonify(dict(server.profile(person)))

    app.add_url_rule(server.profile_path, "profile", profile, methods=["GET"])
    return app
