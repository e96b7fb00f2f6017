"""The OpenID Provider's endpoints: discovery, JWKS, authorize (with the sign-in and consent
pages), token, userinfo, revocation, introspection and end-session.

Each endpoint runs in one write transaction (hub.issuer.server.use_session) and records its
audit events as that transaction's last statements. Errors are the RFC's: a redirect to a
registered redirect URI with `error`, `state` and `iss`, JSON at the back-channel endpoints, or
a page when there is no trustworthy place to send the browser. Never a 500 for bad input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import (
    ConsentRequiredError,
    LoginRequiredError,
    RegistrationNotSupportedError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from flask import Blueprint, Response, current_app, g, jsonify, make_response, request

from hub.core import metrics, sessions
from hub.core.db import write_transaction
from hub.core.errors import HubError
from hub.issuer import applications, claims, signing
from hub.issuer import consent as consent
from hub.issuer.server import (
    HubAuthorizationServer,
    Subject,
    join_session,
    note,
    note_failure,
    record_events,
    session_as_seen_by,
    subject_of_session,
    use_session,
)
from hub.upstream import signin
from hub.web import flood, ratelimit, security
from hub.web.plugin_routes import server_to_server
from hub.web.request import audit_context, current_session, render, runtime
from hub.web.views import auth

log = logging.getLogger(__name__)

bp = Blueprint("issuer", __name__)

LOGIN_MARK = "hub_login_after"
"""A signed timestamp added to the authorization request while the person signs in again for
`prompt=login` or `max_age`: a sign-in after it satisfies them, so the flow cannot loop."""
LOGIN_MARK_LIFETIME = 600
MAX_RESUME_LENGTH = 2000
"""The resumed authorization request travels as the sign-in's `next` path (hub.upstream.signin keeps 2048)."""
UPSTREAM_HINTS = ("idp_hint", "kc_idp_hint")
ASSERTION_ALGORITHMS = ("RS256", "ES256")
"""What a private_key_jwt client assertion may be signed with."""
PUBLIC_ENDPOINTS = frozenset({"issuer.jwks", "issuer.discovery", "issuer.oauth_metadata"})
"""Served without looking up the browser's session, so caches may keep them."""


class AuthorizationRefused(HubError):
    """An authorization request that cannot be answered at a redirect URI (unknown application,
    unregistered redirect URI): a page, never a redirect to an unverified address."""

    code = "authorization_refused"
    status = 400
    title = "This sign-in request cannot be accepted"
    hint = "Go back to the application and try again. If it keeps failing, tell its administrator."


class LogoutRefused(HubError):
    code = "logout_refused"
    status = 400
    title = "This sign-out request cannot be accepted"
    hint = "You may still be signed in. Sign out from the hub's own pages."


def _server() -> HubAuthorizationServer:
    return current_app.extensions["hub.issuer"]


def _issuer() -> str:
    return runtime().settings.base_url.rstrip("/")


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


# --- discovery and keys ---------------------------------------------------------------------------


def metadata() -> dict[str, Any]:
    """OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414)."""
    issuer = _issuer()
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/oauth2/jwks",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "scopes_supported": list(applications.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(applications.GRANT_TYPES),
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": list(signing.ALGORITHMS),
        # userinfo answers plain JSON: the optional userinfo_signing_alg_values_supported is
        # left out rather than published empty.
        "token_endpoint_auth_methods_supported": list(applications.AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(applications.AUTH_METHODS),
        # RFC 8414 §2: MUST be present when private_key_jwt is among the endpoint's methods.
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(claims.CLAIMS_SUPPORTED),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }


def _cacheable(body: dict[str, Any], max_age: int) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/openid-configuration")
@ratelimit.exempt("applications fetch it without credentials; it writes nothing (its own `public` limit)")
@ratelimit.limit("public")
def discovery() -> Response:
    return _cacheable(metadata(), 3600)


@bp.get("/.well-known/oauth-authorization-server")
@ratelimit.exempt("applications fetch it without credentials; it writes nothing (its own `public` limit)")
@ratelimit.limit("public")
def oauth_metadata() -> Response:
    return _cacheable(metadata(), 3600)


@bp.get("/oauth2/jwks")
@ratelimit.exempt("applications fetch the keys without credentials; it writes nothing (its own `public` limit)")
@ratelimit.limit("public")
def jwks() -> Response:
    # Shorter than the time a `next` key is published before it signs, so verifiers always
    # hold a key before it is used.
    return _cacheable(runtime().signing_keys.jwks(), 300)


# --- the protocol transaction ------------------------------------------------------------------


def _in_transaction(work: Callable[[], Any], failed: Callable[[], Any] | None = None) -> Any:
    """Run `work` in one write transaction with its audit events; an unexpected failure is
    logged, audited in its own transaction, and answered by `failed` (by default the RFC's
    `server_error` JSON)."""
    rt = runtime()
    try:
        rt.signing_keys.prepare()
        with write_transaction(rt.db) as session:
            use_session(session)
            result = work()
            _aggregate_refusals()
            record_events(rt, session, audit_context())
        return result
    except (HubError, ratelimit.RateLimitExceeded):
        raise
    except Exception:
        log.exception("issuer endpoint %s failed unexpectedly", request.endpoint)
        flood.record_failure(f"issuer.{(request.endpoint or '').rpartition('.')[2]}", reason="server_error")
        if failed is not None:
            return failed()
        response = jsonify({"error": "server_error", "error_description": "The hub could not finish this request."})
        response.status_code = 500
        response.headers["Cache-Control"] = "no-store"
        return response


def _aggregate_refusals() -> None:
    """Thin the queued refusals to the milestones of hub.web.flood: anyone can send the protocol
    endpoints bad credentials or a made-up id_token_hint, so a refusal is counted per event
    type, RFC error code and source (the authenticated application, else the client address)
    and only the 1st, 10th, 100th... of a minute is recorded, with its count. The client id a
    request names is never the source before it is authenticated: a new one per request would
    escape the count. A signed-in person's refusals stay one event each, like
    hub.web.views.errors.audit_refusal's: they name the person, whose allowance they spend."""
    if current_session() is not None:
        return
    queued = g.get("issuer_events", [])
    client_id = g.get("issuer_client_id")
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
    g.issuer_events = kept


# --- authorize -----------------------------------------------------------------------------------


@bp.route("/oauth2/authorize", methods=["GET", "POST"])
@server_to_server  # applications may POST the request; the consent decision checks CSRF itself
def authorize() -> Any:
    g.no_store = True
    decision = request.form.get("decision") if request.method == "POST" else None
    if decision is not None:
        security.check_csrf(current_app)
    try:
        outcome = _in_transaction(lambda: _authorize(decision), _authorize_failed)
    except signin.SigninsBusy as error:
        auth.audit_signins_busy(error, request.values.get("idp_hint") or request.values.get("kc_idp_hint") or "")
        raise
    if isinstance(outcome, HubError):
        raise outcome
    return outcome


def _authorize(decision: str | None) -> Any:
    rt = runtime()
    server = _server()
    current = current_session()
    application = applications.find_enabled(g.issuer_db, request.values.get("client_id"))
    prompts = set((request.values.get("prompt") or "").split())
    subject: Subject | None = None
    if current is not None and application is not None and _fresh_enough(current, prompts):
        subject = subject_of_session(rt, current, application)
    try:
        _refuse_unquotable_parameters()
        grant = server.get_consent_grant(end_user=subject)
        max_age = request.values.get("max_age")
        if max_age is not None and not max_age.isdigit():
            raise InvalidRequestError("max_age must be a number of seconds.", redirect_uri=grant.redirect_uri)
        _refuse_unsupported_parameters(grant.redirect_uri)
        _check_prompt(grant.redirect_uri, signed_in=subject is not None)
    except OAuth2Error as error:
        return _authorize_error(server, error)
    g.authorize_redirect_uri = grant.redirect_uri
    application = grant.request.client.row
    if subject is None:
        return _sign_in(application, prompts)
    scopes = grant.request.scope.split() if grant.request.scope else []
    remembered = consent.find(g.issuer_db, subject.user.id, application.id)
    must_allow = consent.to_ask(application, scopes)
    needs_consent = "consent" in prompts or (bool(must_allow) and not consent.covers(remembered, must_allow))
    if needs_consent:
        if "none" in prompts:
            return _authorize_error(server, ConsentRequiredError(redirect_uri=grant.redirect_uri))
        if decision is None:
            return _consent_page(application, scopes)
        note(
            "issuer.consent",
            "success" if decision == "allow" else "failure",
            actor_user_id=subject.user.id,
            subject_user_id=subject.user.id,
            details={"client_id": application.client_id, "application": application.name,
                     "scopes": scopes, "decision": "allow" if decision == "allow" else "deny"},
        )
        if decision != "allow":
            return server.create_authorization_response(grant=grant, grant_user=None)
    consent.remember(g.issuer_db, subject.user.id, application.id, scopes if needs_consent else consent.implicit(scopes))
    application_sid = join_session(g.issuer_db, current, subject)
    note(
        "issuer.authorize",
        actor_user_id=subject.user.id,
        subject_user_id=subject.user.id,
        provider_id=subject.provider_id,
        details={"client_id": application.client_id, "application": application.name, "scopes": scopes,
                 "sid": application_sid},
    )
    return server.create_authorization_response(grant=grant, grant_user=subject)


UNSUPPORTED_PARAMETERS = (
    ("request", RequestNotSupportedError),
    ("request_uri", RequestURINotSupportedError),
    ("registration", RegistrationNotSupportedError),
)
"""OpenID Connect Core §6 and §7.2: parameters the hub does not support (discovery says so)
are refused with their own error, never silently ignored, since a client relying on a signed
request object would otherwise get an answer to a request it did not make."""


ECHOED_PARAMETERS = ("redirect_uri", "response_type")
"""Parameters Authlib quotes in its error descriptions, which RFC 6749 §4.1.2.1 limits to
printable ASCII without `"` and `\\`: such a value is refused here, on a page (no registered
redirect URI or response type contains one), before Authlib would fail building the error."""


def _refuse_unquotable_parameters() -> None:
    for name in ECHOED_PARAMETERS:
        if invalid_error_characters(request.values.get(name) or ""):
            raise InvalidRequestError(f"{name} contains characters no registered value has.")


class ServerError(OAuth2Error):
    """RFC 6749 §4.1.2.1: the authorization server met an unexpected condition."""

    error = "server_error"


def _authorize_failed() -> Any:
    """An unexpected failure after the redirect URI was validated goes back to the application
    as `server_error` with `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207), so it can tell the
    person and retry; before that, a page (there is no trustworthy place to send the browser)."""
    redirect_uri = g.pop("authorize_redirect_uri", None)
    if redirect_uri is None:
        from hub.web.views import errors

        return errors.respond(
            500, "server_error", "Something went wrong",
            "The hub could not finish this sign-in request. Nothing was changed.",
            f"Try again. If it keeps happening, tell your administrator the request id {g.get('request_id')}.",
        )
    g.pop("issuer_events", None)  # the failure is audited already; these belonged to the rolled-back work
    return _authorize_error(_server(), ServerError("The hub could not finish this request.", redirect_uri=redirect_uri))


def _check_prompt(redirect_uri: str, *, signed_in: bool) -> None:
    """OpenID Connect Core §3.1.2.1: `prompt` is space-delimited, so " none" is `none`; `none`
    with any other value is invalid_request, and `none` without a usable session login_required.
    (Authlib compares the raw value with "none", so stray spaces would show the sign-in page.)"""
    values = (request.values.get("prompt") or "").split()
    if "none" not in values:
        return
    if len(set(values)) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.", redirect_uri=redirect_uri)
    if not signed_in:
        raise LoginRequiredError(redirect_uri=redirect_uri)


def _refuse_unsupported_parameters(redirect_uri: str) -> None:
    for name, error in UNSUPPORTED_PARAMETERS:
        if request.values.get(name):
            raise error(redirect_uri=redirect_uri)


def _authorize_error(server: HubAuthorizationServer, error: OAuth2Error) -> Any:
    """Errors made outside create_authorization_response: to the validated redirect URI with
    `state` and RFC 9207's `iss`, or, without one, a page."""
    if error.redirect_uri:
        error.state = request.values.get("state")
        response = server.handle_error_response(None, error)
        server.issuer_parameter.add_issuer_parameter(server, response)
        return response
    note_failure(error, "issuer.authorize")
    description = error.get_error_description() or "no further detail"
    if "redirect" in description.lower():  # never echo an unverified address
        description = "the redirect URI is not registered for this application"
    return AuthorizationRefused(f"The application's request was refused ({error.error}): {description}.")


def _fresh_enough(current: sessions.CurrentSession, prompts: set[str]) -> bool:
    """Whether the hub session may answer this request without a new upstream sign-in."""
    auth_time = current.row.created_at.timestamp()
    after = _login_mark_time(request.values.get(LOGIN_MARK))
    if after is not None and auth_time >= after:
        return True  # signed in again for this very request
    max_age = request.values.get("max_age", "")
    if max_age.isdigit() and time.time() - auth_time > int(max_age):
        return False
    return not prompts & {"login", "select_account"}


def _login_mark(issued_at: int) -> str:
    mac = hmac.new(runtime().keys.secret_key, f"issuer-login-after\n{issued_at}".encode(), hashlib.sha256)
    return f"{issued_at}.{base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b'=').decode()}"


def _login_mark_time(value: str | None) -> int | None:
    issued, _, _mac = (value or "").partition(".")
    if not issued.isdigit() or not hmac.compare_digest(_login_mark(int(issued)), value or ""):
        return None
    if time.time() - int(issued) > LOGIN_MARK_LIFETIME:
        return None
    return int(issued)


def _resume_path(prompts: set[str]) -> str:
    """The authorization request as a relative GET path, to resume after sign-in."""
    params = [(key, value) for key, value in request.values.items(multi=True)
              if key not in {LOGIN_MARK, security.CSRF_FIELD, "decision"}]
    if prompts & {"login", "select_account"} or request.values.get("max_age"):
        # A sign-in from now on satisfies the prompt or max_age (one second of slack for the
        # clock's rounding), so even max_age=0 ends after one fresh sign-in.
        params.append((LOGIN_MARK, _login_mark(int(time.time()) - 1)))
    return "/oauth2/authorize?" + urlencode(params)


def _sign_in(application: Any, prompts: set[str]) -> Any:
    rt = runtime()
    resume = _resume_path(prompts)
    if len(resume) > MAX_RESUME_LENGTH:
        return AuthorizationRefused("The authorization request is too long to resume after signing in.")
    hint = next((request.values.get(name) for name in UPSTREAM_HINTS if request.values.get(name)), None)
    provider = rt.registry.get(hint) if hint else None
    if provider is not None:
        url = auth.start_upstream_signin(
            g.issuer_db, provider, intent="signin", next_path=resume, login_hint=request.values.get("login_hint")
        )
        return make_response("", 302, {"Location": url})
    body, status = render(
        "login.html",
        providers=list(rt.providers.values()),
        next_path=resume,
        unavailable=rt.registry.unavailable,
        application=application.name,
        login_hint=signin.clean_login_hint(request.values.get("login_hint")),
    )
    return make_response(body, status)


def _consent_page(application: Any, scopes: list[str]) -> Any:
    fields = [(key, value) for key, value in request.values.items(multi=True)
              if key not in {security.CSRF_FIELD, "decision"}]
    body, status = render(
        "consent.html",
        application=application.name,
        can_see=consent.describe_scopes(scopes),
        fields=fields,
    )
    return make_response(body, status)


# --- token, userinfo, revocation, introspection -----------------------------------------------------


def application_of_request() -> str:
    """The rate-limit key of a token request: the application it names (HTTP Basic user,
    `client_id`, or a client assertion's unverified `sub`) *from this client address*, else the
    address alone. Only a bucket name: authentication happens later, in the grant. The address
    is part of the key because the named client id is unauthenticated here: keyed on it alone,
    anyone could spend a real application's allowance by sending bogus requests in its name."""
    auth = request.authorization
    client_id = auth.username if auth is not None and auth.type == "basic" else None
    client_id = client_id or request.form.get("client_id") or _assertion_subject(request.form.get("client_assertion"))
    address = ratelimit.client_address()
    if client_id and len(client_id) <= 128 and client_id.isprintable():
        return f"app:{client_id}@{address}"
    return address


def _assertion_subject(assertion: str | None) -> str | None:
    if not assertion or len(assertion) > 8192 or assertion.count(".") != 2:
        return None
    payload = assertion.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else None


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


def _answered_client(response: Response) -> Response:
    """A back-channel endpoint answers 2xx only to an authenticated client (or a live access
    token at userinfo): such an answer spends no `anonymous` allowance (hub.web.ratelimit)."""
    if response.status_code < 400:
        ratelimit.authenticated()
    return response


@bp.post("/oauth2/token")
@server_to_server
@ratelimit.limit("token", key=application_of_request)
def token() -> Any:
    response = _answered_client(_in_transaction(lambda: _server().create_token_response()))
    outcome = "success" if response.status_code == 200 else (response.get_json(silent=True) or {}).get("error", "error")
    metrics.issuer_grant(request.form.get("grant_type", ""), g.get("issuer_client_id") or "unknown", outcome)
    return response


@bp.route("/oauth2/userinfo", methods=["GET", "POST"])
@server_to_server
def userinfo() -> Any:
    response = _answered_client(_in_transaction(lambda: _server().create_endpoint_response("userinfo")))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oauth2/revoke")
@server_to_server
def revoke() -> Any:
    return _answered_client(_in_transaction(lambda: _server().create_endpoint_response("revocation")))


@bp.post("/oauth2/introspect")
@server_to_server
def introspect() -> Any:
    response = _answered_client(_in_transaction(lambda: _server().create_endpoint_response("introspection")))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- end-session (RP-initiated logout) ------------------------------------------------------------


@bp.route("/oauth2/logout", methods=["GET", "POST"])
@server_to_server  # an application may POST it with id_token_hint; the confirmation form checks CSRF
def end_session() -> Any:
    g.no_store = True
    outcome = _in_transaction(_end_session)
    if isinstance(outcome, HubError):
        g.failure_audited = True  # _end_session queued the refusal's (aggregated) event
        raise outcome
    return outcome


def _end_session() -> Any:
    server = _server()
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        note_failure(error, "issuer.end_session")
        return LogoutRefused(f"The sign-out request was refused: {error.get_error_description() or error.error}.")
    client = validated.client
    current = current_session()
    needs_confirmation = validated.needs_confirmation or not _hint_names_this_session(validated, current)
    if needs_confirmation and not (request.method == "POST" and request.form.get("confirm") == "yes"):
        fields = [(key, value) for key, value in request.values.items(multi=True)
                  if key not in {security.CSRF_FIELD, "confirm"}]
        body, status = render("end_session.html", application=client.row.name if client else None, fields=fields)
        return make_response(body, status)
    if needs_confirmation:
        security.check_csrf(current_app)
    cookie = current_app.config["HUB_SESSION_COOKIE"]
    if current is not None:
        sessions.end_sessions(g.issuer_db, token=request.cookies.get(cookie, ""), reason="logout")
    note(
        "issuer.end_session",
        actor_user_id=current.user.id if current else None,
        subject_user_id=current.user.id if current else None,
        details={"client_id": client.client_id if client else None, "session_ended": current is not None,
                 "redirected": bool(validated.redirect_uri)},
    )
    response = server.create_endpoint_response("end_session", validated)
    if response is None:
        body, status = render("signed_out.html", application=client.row.name if client else None)
        response = make_response(body, status)
    response.delete_cookie(cookie, path="/", secure=current_app.config["HUB_HTTPS"], httponly=True, samesite="Lax")
    return response


def _hint_names_this_session(validated: Any, current: sessions.CurrentSession | None) -> bool:
    """RP-Initiated Logout 1.0 §2 and §6: a valid id_token_hint signs out without asking only
    when it names this browser's session (the `sub` and `sid` its application sees), so that a
    link carrying someone else's ID token cannot sign a person out. Without a session there is
    nothing to end."""
    if current is None:
        return True
    if validated.client is None:
        return False
    sub, sid = session_as_seen_by(g.issuer_db, current, validated.client.row)
    hinted = validated.id_token_claims
    if hinted.get("sub") != sub:
        return False
    return "sid" not in hinted or hinted["sid"] == sid


__all__ = ["PUBLIC_ENDPOINTS", "bp", "metadata"]
