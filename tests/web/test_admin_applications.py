"""The admin console's Applications pages and "Connected applications" (My account and the
admin's user page): the secret shown once, confirmations, CSRF, audit, and "Remove access"
revoking refresh tokens, forgetting consent and telling the application by back-channel."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hub.core.db import write_transaction
from hub.core.models import (
    Application,
    AuditEvent,
    BackchannelLogout,
    Grant,
    TokenFamily,
    User,
    WebSession,
    utcnow,
)
from hub.issuer import applications, sso, tokens
from hub.issuer import consent as grants
from tests.conftest import csrf_of, sign_in

APP_URL = "http://127.0.0.1:5003"


@pytest.fixture
def person(app, idp):
    client = app.test_client()
    sign_in(client, idp, "bob")
    return client


def register_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "Grafana",
        "redirect_uris": f"{APP_URL}/login/generic_oauth\n{APP_URL}/other",
        "post_logout_redirect_uris": f"{APP_URL}/",
        "backchannel_logout_uri": f"{APP_URL}/backchannel-logout",
    }
    form.update(overrides)
    return form


def post(client, path: str, **form: str):
    return client.post(path, data={"csrf_token": csrf_of(client, "/admin/applications"), **form})


def last_event(rt, kind: str) -> AuditEvent:
    with rt.db.session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.type == kind).order_by(AuditEvent.seq.desc())).first()


def the_application(rt) -> Application:
    with rt.db.session() as session:
        return session.scalars(select(Application)).one()


def shown(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]+)<', html).group(1)


# --- registry ---------------------------------------------------------------------------------------


def test_registering_shows_the_secret_once_and_stores_only_its_hash(admin, rt):
    answer = post(admin, "/admin/applications", **register_form())
    assert answer.status_code == 200 and answer.headers["Cache-Control"].startswith("no-store")
    html = answer.get_data(as_text=True)
    client_id, secret = shown(html, "client-id"), shown(html, "client-secret")
    application = the_application(rt)
    assert application.client_id == client_id and application.name == "Grafana"
    assert applications.check_secret(application, secret) and secret not in (application.secret_hash or "")
    assert application.redirect_uris["uris"] == [f"{APP_URL}/login/generic_oauth", f"{APP_URL}/other"]
    assert application.backchannel_logout_uri == f"{APP_URL}/backchannel-logout"
    page = admin.get(f"/admin/applications/{client_id}").get_data(as_text=True)
    assert client_id in page and secret not in page
    assert secret not in admin.get("/admin/applications").get_data(as_text=True)
    event = last_event(rt, "application.create")
    assert event.outcome == "success" and event.details["client_id"] == client_id and event.actor_user_id is not None
    assert secret not in str(event.details)


def test_an_application_registered_in_the_console_takes_its_secret_by_basic_or_post(admin, rt):
    client_id = shown(post(admin, "/admin/applications", **register_form()).get_data(as_text=True), "client-id")
    assert applications.accepted_auth_methods(the_application(rt)) == ("client_secret_basic", "client_secret_post")
    page = admin.get(f"/admin/applications/{client_id}").get_data(as_text=True)
    assert "client authentication <code>client_secret_basic</code> or <code>client_secret_post</code>" in page


def test_a_bad_redirect_uri_is_explained_and_nothing_is_registered(admin, rt):
    answer = post(admin, "/admin/applications", **register_form(redirect_uris="http://grafana.example/callback"))
    assert answer.status_code == 400
    assert "plain http is allowed only to 127.0.0.1" in answer.get_data(as_text=True)
    assert 'value="Grafana"' in answer.get_data(as_text=True)  # the form keeps what was typed
    with rt.db.session() as session:
        assert session.scalars(select(Application)).all() == []
    assert last_event(rt, "application.create").outcome == "failure"


def test_registering_without_the_csrf_token_is_refused(admin, rt):
    answer = admin.post("/admin/applications", data=register_form())
    assert answer.status_code == 400 and "security token is missing" in answer.get_data(as_text=True)
    with rt.db.session() as session:
        assert session.scalars(select(Application)).all() == []


def test_people_who_are_not_administrators_cannot_see_applications(person):
    assert person.get("/admin/applications").status_code == 403
    assert person.get("/admin/applications/new").status_code == 403


def test_rotating_the_secret_needs_confirmation_and_shows_the_new_one_once(admin, rt):
    html = post(admin, "/admin/applications", **register_form()).get_data(as_text=True)
    client_id, old_secret = shown(html, "client-id"), shown(html, "client-secret")
    confirm = admin.get(f"/admin/applications/{client_id}/confirm/rotate_secret")
    assert "stops working at once" in confirm.get_data(as_text=True)
    refused = post(admin, f"/admin/applications/{client_id}/rotate_secret")  # no confirm=yes
    assert refused.status_code == 409 and applications.check_secret(the_application(rt), old_secret)
    assert last_event(rt, "application.rotate_secret").outcome == "failure"
    rotated = post(admin, f"/admin/applications/{client_id}/rotate_secret", confirm="yes")
    new_secret = shown(rotated.get_data(as_text=True), "client-secret")
    application = the_application(rt)
    assert applications.check_secret(application, new_secret) and not applications.check_secret(application, old_secret)
    assert last_event(rt, "application.rotate_secret").outcome == "success"


def test_disable_revokes_refresh_tokens_and_enable_and_delete_work(admin, rt, idp):
    html = post(admin, "/admin/applications", **register_form()).get_data(as_text=True)
    client_id = shown(html, "client-id")
    with write_transaction(rt.db) as session:
        user = session.scalars(select(User)).first()
        family = tokens.start_family(
            session, application_id=the_application(rt).id, user_id=user.id, grant_id=None, sid=None, origin_sid=None,
            code_hash=None, scope="openid", auth_time=utcnow(), provider_id="fake",
        )
        family_id = family.id
    page = admin.get("/admin/applications").get_data(as_text=True)
    assert "Grafana" in page
    assert post(admin, f"/admin/applications/{client_id}/disable", confirm="yes").status_code == 303
    assert the_application(rt).disabled_at is not None
    with rt.db.session() as session:
        assert session.get(TokenFamily, family_id).revoked_at is not None
    assert "disabled" in admin.get(f"/admin/applications/{client_id}").get_data(as_text=True)
    assert post(admin, f"/admin/applications/{client_id}/disable", confirm="yes").status_code == 409  # already
    assert post(admin, f"/admin/applications/{client_id}/enable", confirm="yes").status_code == 303
    assert the_application(rt).disabled_at is None
    deleted = post(admin, f"/admin/applications/{client_id}/delete", confirm="yes")
    assert deleted.status_code == 303 and deleted.headers["Location"] == "/admin/applications?done=delete"
    with rt.db.session() as session:
        assert session.scalars(select(Application)).all() == []
    with rt.db.session() as session:
        outcomes = session.execute(
            select(AuditEvent.type, AuditEvent.outcome).where(AuditEvent.type.like("application.%")).order_by(AuditEvent.seq)
        ).all()
    assert [tuple(row) for row in outcomes] == [
        ("application.create", "success"),
        ("application.disable", "success"),
        ("application.disable", "failure"),
        ("application.enable", "success"),
        ("application.delete", "success"),
    ]
    assert admin.get(f"/admin/applications/{client_id}").status_code == 404


# --- Connected applications ------------------------------------------------------------------------


@pytest.fixture
def connected(rt, person):
    """Bob signed in to a third-party app through his hub session: a grant, a refresh-token
    family, and the app recorded in his SSO session."""
    with write_transaction(rt.db) as session:
        created = applications.create(
            session, "Wiki", [f"{APP_URL}/callback"], backchannel_logout_uri=f"{APP_URL}/backchannel-logout"
        )
        bob = session.scalars(select(User).where(User.display_name.like("Bob%"))).one()
        grant = grants.remember(session, bob.id, created.application.id, ["openid", "profile", "email"])
        web_session = session.scalars(select(WebSession).where(WebSession.user_id == bob.id)).one()
        sid = sso.sid_for(session, web_session.id_hash, bob.id)
        sso.record_application(session, sid, created.application.id)
        family = tokens.start_family(
            session, application_id=created.application.id, user_id=bob.id, grant_id=grant.id, sid=sid, origin_sid=sid,
            code_hash=None, scope="openid profile email", auth_time=utcnow(), provider_id="fake",
        )
        return {"client_id": created.application.client_id, "user_id": bob.id, "family_id": family.id, "sid": sid}


def test_my_account_lists_what_each_connected_application_can_see(person, connected):
    html = person.get("/account").get_data(as_text=True)
    assert "Connected applications" in html and "Wiki" in html
    assert grants.SCOPE_WORDS["email"] in html and grants.SCOPE_WORDS["profile"] in html
    assert grants.SCOPE_WORDS["offline_access"] not in html


def test_remove_access_revokes_tokens_forgets_consent_and_tells_the_application(person, connected, rt):
    answer = person.post(
        f"/account/applications/{connected['client_id']}/remove", data={"csrf_token": csrf_of(person, "/account")}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/account?done=remove_access"
    with rt.db.session() as session:
        assert session.scalars(select(Grant)).all() == []
        family = session.get(TokenFamily, connected["family_id"])
        assert family is None or family.revoked_at is not None
        [queued] = session.scalars(select(BackchannelLogout)).all()
        assert (queued.sid, queued.user_id, queued.reason) == (connected["sid"], connected["user_id"], "access_removed")
    event = last_event(rt, "grant.remove")
    assert (event.outcome, event.subject_user_id, event.details["via"], event.details["application"]) == (
        "success", connected["user_id"], "account", "Wiki",
    )
    page = person.get("/account?done=remove_access").get_data(as_text=True)
    assert "Access removed" in page and "Wiki" not in page
    again = person.post(
        f"/account/applications/{connected['client_id']}/remove", data={"csrf_token": csrf_of(person, "/account")}
    )
    assert again.status_code == 409


def test_a_person_cannot_remove_access_without_the_csrf_token(person, connected, rt):
    answer = person.post(f"/account/applications/{connected['client_id']}/remove")
    assert answer.status_code == 400 and "security token is missing" in answer.get_data(as_text=True)
    with rt.db.session() as session:
        assert len(session.scalars(select(Grant)).all()) == 1


def test_an_administrator_removes_a_persons_access_after_confirming(admin, connected, rt):
    user_id, client_id = connected["user_id"], connected["client_id"]
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "Connected applications" in page and "Wiki" in page
    confirm = admin.get(f"/admin/users/{user_id}/applications/{client_id}/confirm")
    assert confirm.status_code == 200 and "Remove access?" in confirm.get_data(as_text=True)
    unconfirmed = post(admin, f"/admin/users/{user_id}/applications/{client_id}/remove")
    assert unconfirmed.status_code == 409
    with rt.db.session() as session:
        assert len(session.scalars(select(Grant)).all()) == 1
    done = post(admin, f"/admin/users/{user_id}/applications/{client_id}/remove", confirm="yes")
    assert done.status_code == 303 and done.headers["Location"] == f"/admin/users/{user_id}?done=remove_access"
    with rt.db.session() as session:
        assert session.scalars(select(Grant)).all() == []
    event = last_event(rt, "grant.remove")
    assert event.details["via"] == "console" and event.actor_user_id != user_id
