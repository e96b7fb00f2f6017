"""RP-initiated logout (/oauth2/logout): ends the browser's hub session, asking first unless an
ID token hint names this very session."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import current_app, g, make_response, request

from hub.core import sessions
from hub.core.errors import HubError
from hub.issuer.context import db, note
from hub.issuer.errors import note_failure
from hub.issuer.subjects import session_as_seen_by
from hub.web import security
from hub.web.issuer_server import issuer_server
from hub.web.plugin_routes import server_to_server
from hub.web.request import current_session, render, runtime
from hub.web.views.issuer.blueprint import bp
from hub.web.views.issuer.transaction import in_transaction


class LogoutRefused(HubError):
    code = "logout_refused"
    status = 400
    title = "This sign-out request cannot be accepted"
    hint = "You may still be signed in. Sign out from the hub's own pages."


@bp.route("/oauth2/logout", methods=["GET", "POST"])
@server_to_server  # an application may POST it with id_token_hint; the confirmation form checks CSRF
def end_session() -> Any:
    g.no_store = True
    outcome = in_transaction(_end_session)
    if isinstance(outcome, HubError):
        g.failure_audited = True  # _end_session queued the refusal's (aggregated) event
        raise outcome
    return outcome


def _end_session() -> Any:
    server = issuer_server()
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
        sessions.end_sessions(db(), token=request.cookies.get(cookie, ""), reason="logout")
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
    sub, sid = session_as_seen_by(db(), runtime().keys.secret_key, current, validated.client.row)
    hinted = validated.id_token_claims
    if hinted.get("sub") != sub:
        return False
    return "sid" not in hinted or hinted["sid"] == sid
