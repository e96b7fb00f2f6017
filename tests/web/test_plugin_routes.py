"""The route hook: a throwaway plugin's blueprint is mounted under /plugins/<name>/ and gets the
core's CSRF check, security headers, error pages, session and audit context."""

from __future__ import annotations

import types
from typing import Any

import pytest
from flask import Blueprint, jsonify, request
from sqlalchemy import select

from hub import hookimpl
from hub.app import create_app
from hub.core.config import load_settings
from hub.core.models import AuditEvent
from hub.errors import ConfigError, Forbidden
from hub.web import plugin_routes as routes
from tests.conftest import csrf_of, sign_in


def notes_plugin() -> types.SimpleNamespace:
    """A plugin with a page, a form post, a signed-in-only page, a webhook and an error."""
    bp = Blueprint("notes", __name__, url_prefix="/ignored")

    @bp.get("/")
    def index() -> Any:
        return jsonify(user_id=routes.current_user_id())

    @bp.post("/notes")
    def add_note() -> Any:
        routes.record_event("note.add", details={"length": len(request.form.get("text", ""))})
        return jsonify(ok=True)

    @bp.get("/mine")
    @routes.login_required
    def mine() -> Any:
        return jsonify(user_id=routes.current_user_id())

    @bp.get("/console")
    @routes.admin_required
    def console() -> Any:
        return "admins only"

    @bp.post("/hook")
    @routes.server_to_server
    def hook() -> Any:
        if request.headers.get("X-Signature") != "good":
            raise Forbidden("The webhook signature is wrong.", code="webhook_signature")
        routes.record_event("hook.received")
        return jsonify(received=True)

    @bp.post("/fail")
    def fail() -> Any:
        raise Forbidden("Notes are read-only today.", code="notes_read_only")

    @hookimpl
    def hub_register_routes() -> Blueprint:
        return bp

    return types.SimpleNamespace(hub_api_version=1, hub_register_routes=hub_register_routes)


@pytest.fixture
def app(hub_config, plugins):
    plugins.register(notes_plugin(), "notes", "hub-notes", "0.1")
    app = create_app(settings=load_settings(environ={}, overrides=hub_config), plugins=plugins)
    yield app
    app.extensions["hub"].close()


def events(app, type_: str) -> list[AuditEvent]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_)))


def test_the_blueprint_is_mounted_under_the_plugins_name_not_its_own_prefix(client):
    response = client.get("/plugins/notes/")
    assert response.status_code == 200 and response.get_json() == {"user_id": None}
    assert client.get("/ignored/").status_code == 404
    assert client.get("/notes/").status_code == 404


def test_plugin_responses_carry_the_security_headers(client):
    headers = client.get("/plugins/notes/").headers
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_a_post_without_the_csrf_token_is_refused_and_audited(app, client):
    response = client.post("/plugins/notes/notes", data={"text": "hello"})
    assert response.status_code == 400 and "sent without this browser" in response.get_data(as_text=True)
    assert events(app, "plugin.notes.note.add") == []
    refused = events(app, "request.plugin_notes.notes.add_note")
    assert [(e.outcome, e.details["reason"]) for e in refused] == [("failure", "csrf_cookie")]


def test_a_post_with_the_csrf_token_runs_and_is_audited_with_the_request_context(app, client):
    token = csrf_of(client)
    response = client.post("/plugins/notes/notes", data={"text": "hello", "csrf_token": token},
                           headers={"User-Agent": "notes-test"})
    assert response.status_code == 200
    [event] = events(app, "plugin.notes.note.add")
    assert event.outcome == "success" and event.details == {"length": 5}
    assert event.user_agent == "notes-test" and event.request_id and event.ip == "127.0.0.1"


def test_a_server_to_server_view_skips_csrf_and_checks_its_caller_itself(app, client):
    assert client.post("/plugins/notes/hook", headers={"X-Signature": "good"}).get_json() == {"received": True}
    refused = client.post("/plugins/notes/hook", headers={"X-Signature": "forged", "Accept": "application/json"})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "webhook_signature"
    assert [e.outcome for e in events(app, "plugin.notes.hook.received")] == ["success"]
    assert [e.details["reason"] for e in events(app, "request.plugin_notes.notes.hook")] == ["webhook_signature"]


def test_hub_errors_in_a_plugin_view_become_the_hubs_error_page(client):
    token = csrf_of(client)
    response = client.post("/plugins/notes/fail", data={"csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "Notes are read-only today." in html and "notes_read_only" in html
    assert response.headers["Cache-Control"] == "no-store"
    missing = client.get("/plugins/notes/nothing-here")
    assert missing.status_code == 404 and "There is no page at this address." in missing.get_data(as_text=True)


def test_plugin_pages_see_the_signed_in_person_and_the_hubs_guards(app, client, idp):
    anonymous = client.get("/plugins/notes/mine")
    assert anonymous.status_code == 302 and anonymous.headers["Location"] == "/login?next=/plugins/notes/mine"
    assert sign_in(client, idp, "bob").status_code == 302
    signed_in = client.get("/plugins/notes/mine")
    assert signed_in.status_code == 200 and isinstance(signed_in.get_json()["user_id"], int)
    assert client.get("/plugins/notes/console").status_code == 403
    admin = app.test_client()
    assert sign_in(admin, idp, "alice").status_code == 302  # the fake IdP maps alice to admin
    assert admin.get("/plugins/notes/console").get_data(as_text=True) == "admins only"


def test_a_plugin_returning_something_else_stops_the_hub_naming_it(hub_config, plugins):
    @hookimpl
    def hub_register_routes() -> Any:
        return "/my-routes"

    plugins.register(types.SimpleNamespace(hub_api_version=1, hub_register_routes=hub_register_routes), "broken")
    with pytest.raises(ConfigError, match="plugin 'broken' returned '/my-routes' from hub_register_routes"):
        create_app(settings=load_settings(environ={}, overrides=hub_config), plugins=plugins)


def test_a_plugin_without_routes_adds_none(hub_config, plugins):
    app = create_app(settings=load_settings(environ={}, overrides=hub_config), plugins=plugins)
    try:
        assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/plugins/")]
    finally:
        app.extensions["hub"].close()



def test_each_plugins_routes_have_their_own_rate_limit_with_the_hubs_429(hub_config, plugins):
    other = notes_plugin()
    plugins.register(notes_plugin(), "notes", "hub-notes", "0.1")
    plugins.register(other, "other", "hub-other", "0.1")
    settings = load_settings(environ={}, overrides={**hub_config, "ratelimit_plugins": "3 per minute"})
    app = create_app(settings=settings, plugins=plugins)
    try:
        client = app.test_client()
        answers = [client.get("/plugins/notes/").status_code for _ in range(5)]
        assert answers == [200, 200, 200, 429, 429]
        refused = client.get("/plugins/notes/", headers={"Accept": "application/json"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert refused.get_json()["error"]["code"] == "rate_limited"
        assert client.get("/plugins/other/").status_code == 200  # another plugin's budget
        assert client.get("/login").status_code == 200  # and the hub's own pages
        with app.extensions["hub"].db.session() as session:
            [event] = session.scalars(select(AuditEvent).where(AuditEvent.type == "rate_limit")).all()
        assert event.details["rule"] == "plugin_notes"
    finally:
        app.extensions["hub"].close()


def test_one_plugin_blueprint_serves_several_apps_with_one_rule_each(hub_config, plugins):
    plugin = notes_plugin()
    plugins.register(plugin, "notes", "hub-notes", "0.1")
    settings = load_settings(environ={}, overrides={**hub_config, "ratelimit_plugins": "2 per minute"})
    apps = [create_app(settings=settings, plugins=plugins) for _ in range(2)]
    try:
        for app in apps:  # the second app's mount must not double the first's rule (or share its count)
            client = app.test_client()
            assert [client.get("/plugins/notes/").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        for app in apps:
            app.extensions["hub"].close()
