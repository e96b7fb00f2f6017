"""Sessions, logout, CSRF, security headers and error pages (catalogue S01-S07, L02)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from hub.core.config import load_settings
from hub.core.models import AuditEvent, WebSession, utcnow
from tests.conftest import csrf_of, sign_in


def session_cookie(response) -> str | None:
    for header in response.headers.get_all("Set-Cookie"):
        if header.startswith("hub_session="):
            return header.split(";")[0].split("=", 1)[1]
    return None


def sessions_count(app) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(WebSession))


def last_event(app) -> AuditEvent:
    with app.extensions["hub"].db.session() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def test_every_sign_in_gets_a_new_session_id_and_drops_the_old(client, idp, app):
    first = session_cookie(sign_in(client, idp, "alice"))
    second = session_cookie(sign_in(client, idp, "alice"))
    assert first and second and first != second
    assert sessions_count(app) == 1  # the old row is gone: no fixation


def test_session_row_stores_only_a_hash_of_the_cookie(client, idp, app):
    token = session_cookie(sign_in(client, idp, "alice"))
    with app.extensions["hub"].db.session() as session:
        row = session.scalars(select(WebSession)).one()
    assert row.id_hash != token and token not in row.id_hash


def test_logout_deletes_the_session_and_goes_to_provider_end_session(client, idp, app):
    sign_in(client, idp, "alice")
    response = client.post("/logout", data={"csrf_token": csrf_of(client, "/account")})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://idp.test/logout?post_logout_redirect_uri=")
    assert sessions_count(app) == 0
    assert client.get("/account").status_code == 302
    assert last_event(app).type == "logout"


def test_old_cookie_is_dead_after_logout(client, idp, app):
    token = session_cookie(sign_in(client, idp, "alice"))
    client.post("/logout", data={"csrf_token": csrf_of(client, "/account")})
    other = app.test_client()
    other.set_cookie("hub_session", token)
    assert other.get("/account").status_code == 302


def test_logout_by_get_is_not_allowed(client, idp, app):
    sign_in(client, idp, "alice")
    assert client.get("/logout").status_code == 405
    assert sessions_count(app) == 1


def test_idle_timeout_ends_the_session(client, idp, app):
    sign_in(client, idp, "alice")
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    assert client.get("/account").status_code == 302


def test_absolute_timeout_ends_an_active_session(client, idp, app):
    sign_in(client, idp, "alice")
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/account").status_code == 302


def test_activity_is_recorded_for_the_idle_limit(client, idp, app):
    sign_in(client, idp, "alice")
    old = utcnow() - timedelta(minutes=30)
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(WebSession).values(last_seen_at=old))
    assert client.get("/account").status_code == 200
    with app.extensions["hub"].db.session() as session:
        assert session.scalars(select(WebSession)).one().last_seen_at > old


def test_anonymous_account_page_redirects_to_login_and_back(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account"


@pytest.mark.parametrize(
    "form, headers",
    [
        ({}, {}),
        ({"csrf_token": "forged"}, {}),
        ("valid", {"Origin": "https://evil.test"}),
    ],
)
def test_state_changing_posts_need_csrf_token_and_same_origin(client, idp, app, form, headers):
    sign_in(client, idp, "alice")
    if form == "valid":
        form = {"csrf_token": csrf_of(client, "/account")}
    response = client.post("/logout", data=form, headers=headers)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert sessions_count(app) == 1
    event = last_event(app)
    assert (event.type, event.outcome) == ("request.auth.logout", "failure")
    assert event.details["reason"].startswith("csrf_")


def test_sign_in_start_needs_csrf_and_post(client, app):
    assert client.get("/auth/fake/start").status_code == 405
    client.get("/login")
    assert client.post("/auth/fake/start", data={}).status_code == 400


def test_csrf_token_of_one_browser_fails_in_another(app, client):
    token = csrf_of(client)
    other = app.test_client()
    other.get("/login")
    assert other.post("/auth/fake/start", data={"csrf_token": token}).status_code == 400


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize("path, status", [("/login", 200), ("/nowhere", 404), ("/healthz", 200)])
def test_security_headers_on_pages_and_errors(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "Strict-Transport-Security" not in response.headers  # http: no HSTS


def test_authenticated_pages_are_not_cached(client, idp):
    sign_in(client, idp, "alice")
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_https_adds_hsts_and_host_prefixed_secure_cookies(hub_config, plugins, idp):
    from hub.app import create_app

    settings = load_settings(environ={}, overrides={**hub_config, "base_url": "https://hub.example.test"})
    app = create_app(settings=settings, plugins=plugins)
    try:
        client = app.test_client()
        response = client.get("/login", base_url="https://hub.example.test")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        browser = next(h for h in response.headers.get_all("Set-Cookie") if h.startswith("__Host-hub_browser="))
        assert "Secure" in browser and "HttpOnly" in browser and "Path=/" in browser
    finally:
        app.extensions["hub"].close()


def test_unexpected_error_shows_no_stack_trace(app: Flask, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internal detail" not in body and "Traceback" not in body
    assert "Request id" in body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert app.debug is False


def test_errors_as_json_for_api_clients(client):
    response = client.get("/nowhere", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "http_404"


def test_expired_pending_signins_are_purged_when_a_sign_in_starts(client, app):
    from hub.core.models import PendingSignin
    from tests.conftest import start_signin

    start_signin(client)
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(PendingSignin).values(expires_at=utcnow() - timedelta(seconds=1)))
    start_signin(client)
    with app.extensions["hub"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(PendingSignin)) == 1


def test_purge_deletes_expired_and_idle_sessions_only(client, idp, app):
    from hub.core import sessions
    from hub.core.db import write_transaction

    sign_in(client, idp, "alice")
    sign_in(app.test_client(), idp, "bob")
    sign_in(app.test_client(), idp, "mallory")
    rt = app.extensions["hub"]
    with rt.db.session() as session, session.begin():
        rows = session.scalars(select(WebSession).order_by(WebSession.created_at)).all()
        rows[1].expires_at = utcnow() - timedelta(seconds=1)
        rows[2].last_seen_at = utcnow() - timedelta(minutes=61)
    with write_transaction(rt.db) as session:
        assert len(sessions.end_sessions(session, expired_under=sessions.session_policy(rt.settings), reason="expired")) == 2
    assert sessions_count(app) == 1
    assert client.get("/account").status_code == 200  # alice's live session stays


def test_lookup_reads_the_linked_accounts_check_state_and_a_page_view_not_due_asks_no_database(client, idp, app):
    """The session's one joined read carries its account's upstream check state, so a page view
    whose check is not due decides on it without a second database session (hub.web.upstream_checks)."""
    from types import SimpleNamespace

    from hub.core import sessions
    from hub.core.models import LinkedAccount
    from hub.web import upstream_checks

    rt = app.extensions["hub"]
    cookie = session_cookie(sign_in(client, idp, "alice"))
    with rt.db.session() as session:
        current = sessions.lookup(session, cookie, sessions.session_policy(rt.settings))
        account = session.scalars(select(LinkedAccount)).one()
    assert current.account is not None
    assert (current.account.id, current.account.last_sign_in_at, current.account.upstream_outcome) == (
        account.id, account.last_sign_in_at, None
    )
    no_database = SimpleNamespace(checks=rt.checks)  # any query would fail: it has no db
    assert upstream_checks.refused_session_account(no_database, current.account) is False
    assert upstream_checks.refused_session_account(no_database, None) is False
