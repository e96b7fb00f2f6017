"""The authorization endpoint (/oauth2/authorize): the request checked as OpenID Connect Core
and RFC 6749 say, the sign-in page or an upstream sign-in when the person must (re)authenticate,
the consent page, and the answer at the application's redirect URI. Errors go to a registered
redirect URI with `error`, `state` and `iss`, or, without one, to a page; never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
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
from flask import current_app, g, make_response, request

from hub.core import sessions
from hub.core.errors import HubError
from hub.issuer import applications, consent
from hub.issuer.context import db, note
from hub.issuer.errors import note_failure
from hub.issuer.models import Subject
from hub.issuer.server import HubAuthorizationServer
from hub.issuer.subjects import join_session, subject_of_session
from hub.upstream import signin
from hub.web import security
from hub.web.issuer_server import issuer_server
from hub.web.plugin_routes import server_to_server
from hub.web.request import current_session, render, runtime
from hub.web.views import auth
from hub.web.views.issuer.blueprint import bp
from hub.web.views.issuer.transaction import in_transaction

LOGIN_MARK = "hub_login_after"
"""A signed timestamp added to the authorization request while the person signs in again for
`prompt=login` or `max_age`: a sign-in after it satisfies them, so the flow cannot loop."""
_SECONDS = re.compile(r"[0-9]{1,10}")
LOGIN_MARK_LIFETIME = 600
MAX_RESUME_LENGTH = 2000
"""The resumed authorization request travels as the sign-in's `next` path (hub.upstream.signin keeps 2048)."""
UPSTREAM_HINTS = ("idp_hint", "kc_idp_hint")


class AuthorizationRefused(HubError):
    """An authorization request that cannot be answered at a redirect URI (unknown application,
    unregistered redirect URI): a page, never a redirect to an unverified address."""

    code = "authorization_refused"
    status = 400
    title = "This sign-in request cannot be accepted"
    hint = "Go back to the application and try again. If it keeps failing, tell its administrator."


@bp.route("/oauth2/authorize", methods=["GET", "POST"])
@server_to_server  # applications may POST the request; the consent decision checks CSRF itself
def authorize() -> Any:
    g.no_store = True
    decision = request.form.get("decision") if request.method == "POST" else None
    if decision is not None:
        security.check_csrf(current_app)
    try:
        outcome = in_transaction(lambda: _authorize(decision), _authorize_failed)
    except signin.SigninsBusy as error:
        auth.audit_signins_busy(error, request.values.get("idp_hint") or request.values.get("kc_idp_hint") or "")
        raise
    if isinstance(outcome, HubError):
        raise outcome
    return outcome


def _authorize(decision: str | None) -> Any:
    rt = runtime()
    server = issuer_server()
    current = current_session()
    application = applications.find_enabled(db(), request.values.get("client_id"))
    prompts = set((request.values.get("prompt") or "").split())
    subject: Subject | None = None
    if current is not None and application is not None and _fresh_enough(current, prompts):
        subject = subject_of_session(rt.keys.secret_key, current, application)
    try:
        _refuse_unquotable_parameters()
        grant = server.get_consent_grant(end_user=subject)
        max_age = request.values.get("max_age")
        if max_age is not None and _seconds(max_age) is None:
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
    remembered = consent.find(db(), subject.user.id, application.id)
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
    consent.remember(db(), subject.user.id, application.id, scopes if needs_consent else consent.implicit(scopes))
    application_sid = join_session(db(), current, subject)
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
    return _authorize_error(issuer_server(), ServerError("The hub could not finish this request.", redirect_uri=redirect_uri))


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
    max_age = _seconds(request.values.get("max_age"))
    if max_age is not None and time.time() - auth_time > max_age:
        return False
    return not prompts & {"login", "select_account"}


def _login_mark(issued_at: int) -> str:
    mac = hmac.new(runtime().keys.secret_key, f"issuer-login-after\n{issued_at}".encode(), hashlib.sha256)
    return f"{issued_at}.{base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b'=').decode()}"


def _seconds(value: str | None) -> int | None:
    """A request's count of seconds (`max_age`, a login mark's time): ASCII digits only, at most
    ten of them, else None. `str.isdigit` also takes "²" and unbounded digit runs, which `int()`
    then refuses or chokes on: a 500 for anyone who types them."""
    if value is None or not _SECONDS.fullmatch(value):
        return None
    return int(value)


def _login_mark_time(value: str | None) -> int | None:
    issued_text, _, _mac = (value or "").partition(".")
    issued = _seconds(issued_text)
    if issued is None or not value.isascii() or not hmac.compare_digest(_login_mark(issued), value):
        return None
    if time.time() - issued > LOGIN_MARK_LIFETIME:
        return None
    return issued


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
            db(), provider, intent="signin", next_path=resume, login_hint=request.values.get("login_hint")
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
