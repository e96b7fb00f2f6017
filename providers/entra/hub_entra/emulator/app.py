"""The emulator's HTTP surface: Entra v2.0 endpoints, Graph `/v1.0/me` and a test control API.

Routes parse requests and render answers in Entra's wire formats (PROTOCOL-REFERENCE Part A
and the Part C checklist); the state they change lives in EntraEmulator.
"""

from __future__ import annotations

import base64
import datetime
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from flask import Flask, Response, jsonify, redirect, render_template_string, request

from hub.testing.misbehaviour import canned_answer
from hub_entra.emulator.assertions import CLIENT_ASSERTION_TYPE
from hub_entra.emulator.directory import Client, Tenant
from hub_entra.emulator.pages import (
    CONSENT_PAGE,
    ERROR_PAGE,
    FORM_POST_PAGE,
    PICKER_PAGE,
    SIGNED_OUT_PAGE,
)
from hub_entra.emulator.server import (
    MISBEHAVIOURS,
    AuthorizeRequest,
    ClientCredential,
    TokenEndpointError,
)

if TYPE_CHECKING:
    from hub_entra.emulator.server import EntraEmulator

BROWSER_COOKIE = "ESTSAUTH"
ME_DEFAULT_FIELDS = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


def create_app(emulator: EntraEmulator) -> Flask:
    """A Flask app bound to one emulator's state."""
    app = Flask("hub_entra.emulator")
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]

    @app.before_request
    def misbehave_slowly() -> None:
        endpoint = _endpoint_name(request.path)
        if endpoint is None:
            return
        emulator.count(endpoint)
        slow = emulator.take("slow", endpoint)
        if slow is not None:
            time.sleep(float(slow.get("seconds", 1)))

    @app.before_request
    def misbehave_with_http_errors() -> Response | None:
        endpoint = _endpoint_name(request.path)
        failure = emulator.take("http_error", endpoint) if endpoint else None
        if failure is not None:
            return _http_error(endpoint or "", failure)
        canned = emulator.take("canned", endpoint) if endpoint else None
        return canned_answer(canned["kind"], 0) if canned is not None else None

    @app.get("/<segment>/v2.0/.well-known/openid-configuration")
    def discovery(segment: str) -> Response:
        resolved = emulator.resolve_tenant(segment)
        if resolved is None:
            return _tenant_not_found(segment)
        issuer = emulator.discovery_issuer(resolved)
        if emulator.take("discovery_wrong_issuer") is not None:
            issuer = "https://example.org/"
        response = jsonify(_discovery_document(emulator, segment, issuer))
        response.headers["Cache-Control"] = "max-age=86400, private"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.get("/<segment>/discovery/v2.0/keys")
    def keys(segment: str) -> Response:
        if emulator.resolve_tenant(segment) is None:
            return _tenant_not_found(segment)
        issuer = f"{emulator.base_url}/{{tenantid}}/v2.0"
        published = [key.public_jwk(issuer, "microsoftonline.com") for key in list(emulator.signing_keys)]
        return jsonify({"keys": published})

    @app.get("/<segment>/oauth2/v2.0/authorize")
    def authorize(segment: str) -> Any:
        return _authorize(emulator, segment)

    @app.post("/<segment>/oauth2/v2.0/authorize/pick")
    def pick_account(segment: str) -> Any:
        return _pick_account(emulator, segment)

    @app.post("/<segment>/oauth2/v2.0/authorize/consent")
    def consent(segment: str) -> Any:
        return _consent(emulator, segment)

    @app.post("/<segment>/oauth2/v2.0/token")
    def token(segment: str) -> Response:
        return _token(emulator, segment)

    @app.route("/<segment>/oauth2/v2.0/logout", methods=["GET", "POST"])
    def logout(segment: str) -> Any:
        return _logout(emulator)

    @app.get("/v1.0/me")
    def graph_me() -> Response:
        return _graph_me(emulator)

    @app.post("/_emulator/misbehave")
    def control_misbehave() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        name = body.pop("name", None)
        if name not in MISBEHAVIOURS:
            return jsonify({"error": f"name must be one of {sorted(MISBEHAVIOURS)}"}), 400  # type: ignore[return-value]
        emulator.misbehave(name, times=body.pop("times", 1), **body)
        return jsonify({"ok": True})

    @app.post("/_emulator/disable-user")
    def control_disable_user() -> Response:
        """JSON {"email": ..., "disabled": true|false}, or the people page's form: disable a
        person in the directory (sign-in and refresh answer AADSTS50057), or enable them again."""
        body = request.get_json(silent=True) if request.is_json else None
        body = body if isinstance(body, dict) else {"email": request.form.get("email", ""), "disabled": request.form.get("disabled") == "true"}
        if not emulator.set_disabled(str(body.get("email", "")), bool(body.get("disabled", True))):
            return jsonify({"error": "no such person"}), 404  # type: ignore[return-value]
        if not request.is_json:
            return redirect("/_emulator/people", code=303)  # type: ignore[return-value]
        return jsonify({"ok": True})

    @app.post("/_emulator/scim-user")
    def control_scim_user() -> Response:
        """The people page's SCIM buttons: form `email` and `push` = provision | deprovision.
        The application's answer (or its absence) is shown on the page, never raised."""
        email, push = request.form.get("email", ""), request.form.get("push", "")
        if push not in ("provision", "deprovision"):
            return jsonify({"error": "push must be provision or deprovision"}), 400  # type: ignore[return-value]
        outcome = emulator.provision(email) if push == "provision" else emulator.deprovision(email)
        if outcome is None:
            return jsonify({"error": "SCIM is not connected for this person's tenant"}), 404  # type: ignore[return-value]
        return redirect("/_emulator/people", code=303)  # type: ignore[return-value]

    @app.get("/_emulator/people")
    def people_page() -> str:
        """The directory's admin page for the demo: disable or enable a person, and when SCIM is
        connected, provision or deprovision them at the application."""
        scim = emulator.provisioning
        people = [
            (
                tenant.name,
                user,
                user.oid in emulator.disabled_oids,
                scim is not None and tenant.id == scim.tenant_id,
                scim.outcome(user.oid) if scim is not None else None,
            )
            for tenant in emulator.tenants.values()
            for user in tenant.users
        ]
        return render_template_string(PEOPLE_PAGE, people=people, scim=scim)

    @app.post("/_emulator/reset")
    def control_reset() -> Response:
        emulator.reset()
        return jsonify({"ok": True})

    @app.post("/_emulator/rotate-keys")
    def control_rotate() -> Response:
        key = emulator.rotate_keys(retire_old=bool(request.args.get("retire_old")))
        return jsonify({"kid": key.x5t})

    @app.post("/_emulator/auto-sign-in")
    def control_auto_sign_in() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        emulator.auto_sign_in = body.get("email")
        return jsonify({"auto_sign_in": emulator.auto_sign_in})

    @app.get("/")
    def home() -> Response:
        return jsonify(
            {
                "emulator": "Microsoft Entra ID v2.0 + Graph /me (for demos and tests only)",
                "authority_host": emulator.base_url,
                "tenants": [{"id": t.id, "domain": t.domain} for t in emulator.tenants.values()],
            }
        )

    return app


# --- authorize ------------------------------------------------------------------------------


def _authorize(emulator: EntraEmulator, segment: str) -> Any:
    args = request.args
    resolved = emulator.resolve_tenant(segment)
    if resolved is None:
        return _error_page(90002, f"Tenant '{segment}' not found.")
    client = emulator.clients.get(args.get("client_id", ""))
    if client is None:
        return _error_page(
            700016,
            f"Application with identifier '{args.get('client_id', '')}' was not found in the directory.",
        )
    problem = _tenant_problem(resolved, client)
    if problem:
        return _error_page(*problem)
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return _error_page(
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{client.client_id}'.",
        )
    response_mode = args.get("response_mode", "query")
    state = args.get("state")

    def fail(error: str, code: int, message: str) -> Any:
        return _respond(redirect_uri, response_mode, _error_params(error, code, message, state))

    if args.get("response_type") != "code":
        return fail("unsupported_response_type", 700054, "response_type must be 'code'.")
    if response_mode not in ("query", "fragment", "form_post"):
        return fail("invalid_request", 900144, "response_mode is not supported.")
    method = args.get("code_challenge_method", "plain")
    if args.get("code_challenge") and method not in ("S256", "plain"):
        return fail("invalid_request", 501491, "Invalid code_challenge_method.")
    forced = emulator.take("authorize_error")
    if forced is not None:
        return fail(
            forced.get("error", "access_denied"),
            int(forced.get("aadsts", 65004)),
            forced.get("message", "User declined to consent to access the app."),
        )
    pending = AuthorizeRequest(
        segment=segment,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=args.get("scope", ""),
        state=state,
        nonce=args.get("nonce"),
        code_challenge=args.get("code_challenge"),
        code_challenge_method=method,
        response_mode=response_mode,
        client_info=args.get("client_info") == "1",
        created=emulator.clock(),
    )
    automatic = _automatic_user(emulator, resolved, client, args.get("prompt"))
    if isinstance(automatic, tuple):
        return _complete(emulator, pending, *automatic)
    if args.get("prompt") == "none":
        return fail("login_required", 50058, "A silent sign-in request was sent but no user is signed in.")
    context_id = emulator.begin_authorize(pending)
    return _picker(emulator, segment, context_id, resolved, client)


def _tenant_problem(resolved: Tenant | str, client: Client) -> tuple[int, str] | None:
    if client.multi_tenant:
        return None
    if isinstance(resolved, str):
        return (
            50194,
            f"Application '{client.client_id}' is not configured as a multi-tenant application. "
            "Use a tenant-specific endpoint.",
        )
    if resolved.id != client.home_tenant:
        return (
            700016,
            f"Application with identifier '{client.client_id}' was not found in the directory "
            f"'{resolved.name}'.",
        )
    return None


def _automatic_user(
    emulator: EntraEmulator, resolved: Tenant | str, client: Client, prompt: str | None
) -> tuple[str, str] | None:
    """(tenant id, oid) to sign in without pages: the auto_sign_in person, or for
    prompt=none the browser's existing emulator session."""
    allowed = {(t.id, u.oid): u for t, u in emulator.users_for(resolved, client)}
    email = emulator.auto_sign_in
    if email is not None:
        found = emulator.find_user(email)
        if found is not None and (found[0].id, found[1].oid) in allowed:
            return found[0].id, found[1].oid
    if prompt == "none":
        session = emulator.browser_session(request.cookies.get(BROWSER_COOKIE))
        if session is not None and (session.tenant_id, session.oid) in allowed:
            return session.tenant_id, session.oid
    return None


def _picker(
    emulator: EntraEmulator, segment: str, context_id: str, resolved: Tenant | str, client: Client
) -> str:
    accounts = [
        {"email": user.email, "name": user.display_name, "tenant": tenant.name}
        for tenant, user in emulator.users_for(resolved, client)
    ]
    return render_template_string(
        PICKER_PAGE,
        action=f"/{segment}/oauth2/v2.0/authorize/pick",
        context_id=context_id,
        accounts=accounts,
        client=client,
    )


def _pick_account(emulator: EntraEmulator, segment: str) -> Any:
    context_id = request.form.get("ctx", "")
    pending = emulator.pending(context_id)
    if pending is None:
        return _error_page(50058, "This sign-in page has expired. Start again from the app.")
    if request.form.get("action") == "cancel":
        emulator.finish_authorize(context_id)
        params = _error_params("access_denied", 50126, "The user canceled the sign-in.", pending.state)
        return _respond(pending.redirect_uri, pending.response_mode, params)
    client = emulator.clients[pending.client_id]
    resolved = emulator.resolve_tenant(pending.segment)
    found = emulator.find_user(request.form.get("user", ""))
    allowed = {(t.id, u.oid) for t, u in emulator.users_for(resolved or "", client)}
    if found is None or (found[0].id, found[1].oid) not in allowed:
        return _error_page(50034, "The user account does not exist in this directory.")
    pending.user = (found[0].id, found[1].oid)
    return render_template_string(
        CONSENT_PAGE,
        action=f"/{segment}/oauth2/v2.0/authorize/consent",
        context_id=context_id,
        client=client,
        user=found[1],
        scopes=pending.scope.split(),
    )


def _consent(emulator: EntraEmulator, segment: str) -> Any:
    context_id = request.form.get("ctx", "")
    pending = emulator.pending(context_id)
    if pending is None or pending.user is None:
        return _error_page(50058, "This sign-in page has expired. Start again from the app.")
    emulator.finish_authorize(context_id)
    if request.form.get("decision") != "accept":
        params = _error_params(
            "access_denied", 65004, "User declined to consent to access the app.", pending.state
        )
        return _respond(pending.redirect_uri, pending.response_mode, params)
    return _complete(emulator, pending, *pending.user)


def _complete(emulator: EntraEmulator, pending: AuthorizeRequest, tenant_id: str, oid: str) -> Any:
    """Issue the code and send the browser back: code, state, session_state (never iss)."""
    if oid in emulator.disabled_oids:
        return _error_page(50057, "The user account is disabled.")
    browser = request.cookies.get(BROWSER_COOKIE)
    code, sid, browser = emulator.issue_code(pending, tenant_id, oid, browser)
    params = {"code": code}
    if pending.state is not None:
        params["state"] = pending.state
    params["session_state"] = sid
    if pending.client_info:
        info = f'{{"uid":"{oid}","utid":"{tenant_id}"}}'.encode()
        params["client_info"] = base64.urlsafe_b64encode(info).rstrip(b"=").decode()
    response = _respond(pending.redirect_uri, pending.response_mode, params)
    response.set_cookie(BROWSER_COOKIE, browser, httponly=True, samesite="Lax")
    return response


def _respond(redirect_uri: str, response_mode: str, params: dict[str, str]) -> Response:
    if response_mode == "form_post":
        page = render_template_string(FORM_POST_PAGE, action=redirect_uri, params=params)
        return Response(page, content_type="text/html; charset=utf-8")
    separator = "#" if response_mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return redirect(f"{redirect_uri}{separator}{urlencode(params)}", code=302)


def _error_params(error: str, code: int, message: str, state: str | None) -> dict[str, str]:
    params = {"error": error, "error_description": f"AADSTS{code}: {message}"}
    if state is not None:
        params["state"] = state
    return params


def _error_page(code: int, message: str) -> tuple[str, int]:
    """Entra shows a page instead of redirecting when the client or redirect URI is wrong."""
    return render_template_string(ERROR_PAGE, code=f"AADSTS{code}", message=message), 400


# --- token ----------------------------------------------------------------------------------


def _token(emulator: EntraEmulator, segment: str) -> Response:
    if emulator.resolve_tenant(segment) is None:
        return _token_error(TokenEndpointError("invalid_request", 90002, f"Tenant '{segment}' not found."))
    form = request.form
    forced = emulator.take("token_error")
    try:
        if forced is not None:
            raise TokenEndpointError(
                forced.get("error", "invalid_grant"),
                int(forced.get("aadsts", 70008)),
                forced.get(
                    "message",
                    "The provided authorization code or refresh token has expired due to inactivity.",
                ),
                status=int(forced.get("status", 400)),
                suberror=forced.get("suberror"),
            )
        client_id, credential = _client_credential(emulator, segment)
        client = emulator.authenticate_client(client_id, credential)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            body = emulator.redeem_code(segment, client, form)
        elif grant_type == "refresh_token":
            body = emulator.redeem_refresh_token(client, form)
        else:
            raise TokenEndpointError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
    except TokenEndpointError as exc:
        return _token_error(exc)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store, no-cache"
    response.headers["Pragma"] = "no-cache"
    return response


def _client_credential(emulator: EntraEmulator, segment: str) -> tuple[str | None, ClientCredential]:
    """The client id and credential from a Basic header, the body, or a client assertion."""
    form = request.form
    token_endpoint = f"{emulator.base_url}/{segment}/oauth2/v2.0/token"
    header = request.headers.get("Authorization", "")
    basic_id = basic_secret = None
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
            raw_id, _, raw_secret = decoded.partition(":")
            basic_id, basic_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenEndpointError("invalid_client", 7000216, "Malformed Basic header.") from exc
    offered = [x for x in (basic_secret, form.get("client_secret"), form.get("client_assertion")) if x]
    if len(offered) > 1:
        raise TokenEndpointError(
            "invalid_request", 90023, "Only one client authentication method may be used."
        )
    assertion = form.get("client_assertion")
    if assertion and form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise TokenEndpointError("invalid_request", 50027, "Invalid client_assertion_type.")
    client_id = basic_id or form.get("client_id")
    if basic_id and form.get("client_id") and form.get("client_id") != basic_id:
        raise TokenEndpointError("invalid_request", 700016, "client_id differs from Basic.")
    credential = ClientCredential(
        secret=basic_secret or form.get("client_secret"),
        assertion=assertion,
        token_endpoint=token_endpoint,
    )
    return client_id, credential


def _token_error(exc: TokenEndpointError) -> Response:
    now = datetime.datetime.now(datetime.UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": exc.error,
        "error_description": (
            f"AADSTS{exc.code}: {exc.message}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [exc.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={exc.code}",
    }
    if exc.suberror:
        body["suberror"] = exc.suberror
    response = jsonify(body)
    response.status_code = exc.status
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response


# --- logout ---------------------------------------------------------------------------------


def _logout(emulator: EntraEmulator) -> Any:
    """End the browser's emulator session; show front-channel logout iframes (`?sid=` only)
    for apps that registered a logout URL; then return to a registered address."""
    values = request.values
    target = values.get("post_logout_redirect_uri")
    session = emulator.end_browser_session(request.cookies.get(BROWSER_COOKIE))
    frames = []
    if session is not None:
        for client_id in sorted(session.client_ids):
            client = emulator.clients.get(client_id)
            if client is not None and client.frontchannel_logout_url:
                frames.append(f"{client.frontchannel_logout_url}?{urlencode({'sid': session.sid})}")
    if target and not _registered_origin(emulator, target):
        target = None
    if target and not frames:
        response = redirect(target, code=302)
    else:
        response = Response(
            render_template_string(SIGNED_OUT_PAGE, frames=frames, target=target),
            content_type="text/html; charset=utf-8",
        )
    response.delete_cookie(BROWSER_COOKIE)
    return response


def _registered_origin(emulator: EntraEmulator, uri: str) -> bool:
    origin = urlsplit(uri)[:2]
    return any(
        urlsplit(registered)[:2] == origin
        for client in emulator.clients.values()
        for registered in client.redirect_uris
    )


# --- Graph ----------------------------------------------------------------------------------


def _graph_me(emulator: EntraEmulator) -> Response:
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else None
    found = emulator.graph_user(token)
    if isinstance(found, str):
        return _graph_error(401, "InvalidAuthenticationToken", found)
    user, _grant = found
    document: dict[str, Any] = {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail_address,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": user.surname,
        "userPrincipalName": user.email,
        "id": user.oid,
    }
    if emulator.take("graph_wrong_id") is not None:
        document["id"] = str(uuid.uuid4())
    select = [name for name in request.args.get("$select", "").split(",") if name]
    unknown = [name for name in select if name not in document]
    if unknown:
        return _graph_error(
            400,
            "BadRequest",
            f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.user'.",
        )
    context = f"{emulator.graph_url}/v1.0/$metadata#users/$entity"
    if select:
        document = {name: document[name] for name in select}
        context = f"{emulator.graph_url}/v1.0/$metadata#users({','.join(select)})/$entity"
    response = jsonify({"@odata.context": context, **document})
    _graph_headers(response)
    return response


def _graph_error(status: int, code: str, message: str) -> Response:
    request_id = str(uuid.uuid4())
    response = jsonify(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": request_id,
                },
            }
        }
    )
    response.status_code = status
    _graph_headers(response, request_id)
    return response


def _graph_headers(response: Response, request_id: str | None = None) -> None:
    request_id = request_id or str(uuid.uuid4())
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = request.headers.get("client-request-id", request_id)


# --- shared ---------------------------------------------------------------------------------


def _endpoint_name(path: str) -> str | None:
    if path.startswith("/v1.0/"):
        return "graph"
    if path.endswith("/.well-known/openid-configuration"):
        return "discovery"
    if path.endswith("/discovery/v2.0/keys"):
        return "keys"
    for name in ("authorize", "token", "logout"):
        if f"/oauth2/v2.0/{name}" in path:
            return name
    return None


def _http_error(endpoint: str, failure: dict[str, Any]) -> Response:
    """A forced failure in the endpoint's own error shape (or an HTML outage page)."""
    status = int(failure.get("status", 500))
    if failure.get("html"):
        response = Response(
            "<html><body><h1>Service Unavailable</h1></body></html>",
            status=status,
            content_type="text/html",
        )
    elif endpoint == "graph":
        code = "TooManyRequests" if status == 429 else "serviceNotAvailable"
        response = _graph_error(status, code, "Please retry again later.")
    else:
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        response = _token_error(
            TokenEndpointError(error, 50196 if status == 429 else 90033, "Try again later.", status)
        )
    if failure.get("retry_after") is not None:
        response.headers["Retry-After"] = str(int(failure["retry_after"]))
    return response


def _tenant_not_found(segment: str) -> Response:
    return _token_error(
        TokenEndpointError(
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID.",
        )
    )


def _discovery_document(emulator: EntraEmulator, segment: str, issuer: str) -> dict[str, Any]:
    """The document in the field order Entra uses, with every URL under the requested segment."""
    base = f"{emulator.base_url}/{segment}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{emulator.graph_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],  # fmt: skip
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": urlsplit(emulator.graph_url).netloc,
        "rbac_url": "https://pas.windows.net",
    }


PEOPLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Entra emulator: people</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}td,th{padding:.3rem .6rem;text-align:left;border-bottom:1px solid #ddd}form{display:inline}</style></head>
<body><h1>People in the directory</h1>
<p>Disabling a person is what an administrator does in Entra ID when someone leaves: from then on
their sign-in and every refresh of their tokens answer <code>AADSTS50057</code>.</p>
{% if scim %}<p>Provisioning (SCIM 2.0) pushes this tenant's people to {{ scim.url }}.
<strong>Deprovision (SCIM)</strong> disables the person here and pushes <code>active</code> "False"
at once, as Entra's provisioning service does: the application ends their sessions in the request.
<strong>Provision (SCIM)</strong> enables them again and pushes <code>active</code> "True".</p>{% endif %}
<table><tr><th>Tenant</th><th>Name</th><th>Email</th><th>State</th><th></th>{% if scim %}<th>Last SCIM push</th>{% endif %}</tr>
{% for tenant, user, disabled, provisioned, outcome in people %}<tr><td>{{ tenant }}</td><td>{{ user.display_name }}</td><td>{{ user.email }}</td>
<td>{{ "disabled" if disabled else "enabled" }}</td>
<td><form method="post" action="/_emulator/disable-user"><input type="hidden" name="email" value="{{ user.email }}">
<input type="hidden" name="disabled" value="{{ 'false' if disabled else 'true' }}">
<button type="submit">{{ "Enable" if disabled else "Disable" }}</button></form>
{% if provisioned %}<form method="post" action="/_emulator/scim-user"><input type="hidden" name="email" value="{{ user.email }}">
<button type="submit" name="push" value="deprovision">Deprovision (SCIM)</button>
<button type="submit" name="push" value="provision">Provision (SCIM)</button></form>{% endif %}</td>
{% if scim %}<td>{% if outcome %}<span class="{{ 'scim-ok' if outcome.ok else 'scim-failed' }}">{{ outcome }}</span>{% elif provisioned %}not pushed yet{% else %}not in the provisioned tenant{% endif %}</td>{% endif %}</tr>{% endfor %}
</table></body></html>
"""
