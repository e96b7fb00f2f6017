"""Linking another account: bound to the user who started it, never merged, never the last unlinked."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.core.models import AuditEvent, LinkedAccount, User, WebSession
from tests.conftest import callback_path, csrf_of, sign_in, start_signin


def accounts_of(app):
    with app.extensions["hub"].db.session() as session:
        return session.execute(select(LinkedAccount.provider_id, LinkedAccount.subject, LinkedAccount.user_id).order_by(LinkedAccount.id)).all()


def last_event(app):
    with app.extensions["hub"].db.session() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def link(client, idp, provider="fake2", user="bob"):
    url = start_signin(client, provider, intent="link", next="/account")
    return client.get(callback_path(idp.authorize(url, user)))


def test_signed_in_user_links_a_second_provider_account(client, idp, app):
    sign_in(client, idp, "alice")
    response = link(client, idp, "fake2", "bob")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    rows = accounts_of(app)
    assert [(r.provider_id, r.subject) for r in rows] == [("fake", "sub-alice"), ("fake2", "sub-bob")]
    assert rows[0].user_id == rows[1].user_id
    assert last_event(app).type == "link"
    assert "Second IdP" in client.get("/account").get_data(as_text=True)


def test_link_asks_the_provider_to_let_the_person_choose_an_account(client, idp):
    sign_in(client, idp, "alice")
    assert "prompt=select_account" in start_signin(client, "fake2", intent="link")


def test_link_needs_a_signed_in_user(client):
    client.get("/login")
    response = client.post("/auth/fake2/start", data={"csrf_token": csrf_of(client), "intent": "link"})
    assert response.status_code == 401


def test_account_linked_to_someone_else_is_refused(client, idp, app):
    sign_in(app.test_client(), idp, "bob")  # bob's fake account belongs to user 1
    sign_in(client, idp, "alice")
    response = link(client, idp, "fake", "bob")
    assert response.status_code == 403
    assert "already linked to another user" in response.get_data(as_text=True)
    owners = {r.subject: r.user_id for r in accounts_of(app)}
    assert owners["sub-bob"] != owners["sub-alice"]
    event = last_event(app)
    assert (event.type, event.outcome, event.details["reason"]) == ("link", "failure", "account_linked_elsewhere")


def test_link_proof_cannot_be_finished_by_another_user(app, idp):
    """A link started by alice, whose callback URL is replayed in bob's browser session."""
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, idp, "alice")
    sign_in(bob, idp, "bob")
    url = idp.authorize(start_signin(alice, "fake2", intent="link"), "mallory")
    response = bob.get(callback_path(url))
    assert response.status_code == 400
    assert ("fake2", "sub-mallory") not in {(r.provider_id, r.subject) for r in accounts_of(app)}


def test_unlink_keeps_the_user_and_removes_the_account(client, idp, app):
    sign_in(client, idp, "alice")
    link(client, idp, "fake2", "bob")
    account_id = app.extensions["hub"].db.sessions().scalar(select(LinkedAccount.id).where(LinkedAccount.provider_id == "fake2"))
    response = client.post(f"/account/linked/{account_id}/unlink", data={"csrf_token": csrf_of(client, "/account")})
    assert response.status_code == 303
    assert [r.provider_id for r in accounts_of(app)] == ["fake"]
    event = last_event(app)
    assert event.type == "unlink" and event.details["provider_revocation"] == "revoked at the provider"
    assert len(idp.revoked) == 1 and idp.revoked[0] in idp.secrets_issued  # bob's refresh token


def test_unlink_succeeds_when_the_provider_cannot_revoke(client, idp, app):
    sign_in(client, idp, "alice")
    link(client, idp, "fake2", "bob")
    idp.revoke_status = 503
    account_id = app.extensions["hub"].db.sessions().scalar(select(LinkedAccount.id).where(LinkedAccount.provider_id == "fake2"))
    response = client.post(f"/account/linked/{account_id}/unlink", data={"csrf_token": csrf_of(client, "/account")})
    assert response.status_code == 303
    assert [r.provider_id for r in accounts_of(app)] == ["fake"]
    assert last_event(app).details["provider_revocation"] == "provider revocation failed (provider_unavailable)"


def test_last_account_cannot_be_unlinked(client, idp, app):
    sign_in(client, idp, "alice")
    (account_id,) = app.extensions["hub"].db.sessions().scalars(select(LinkedAccount.id)).all()
    response = client.post(f"/account/linked/{account_id}/unlink", data={"csrf_token": csrf_of(client, "/account")})
    assert response.status_code == 409
    assert len(accounts_of(app)) == 1
    assert idp.revoked == []  # refused before anything was revoked at the provider
    event = last_event(app)
    assert (event.outcome, event.details["reason"]) == ("failure", "unlink_refused")


def test_cannot_unlink_another_users_account(app, idp):
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, idp, "alice")
    sign_in(bob, idp, "bob")
    link(bob, idp, "fake2", "mallory")
    with app.extensions["hub"].db.session() as session:
        bobs = session.scalar(select(LinkedAccount.id).where(LinkedAccount.subject == "sub-bob"))
    response = alice.post(f"/account/linked/{bobs}/unlink", data={"csrf_token": csrf_of(alice, "/account")})
    assert response.status_code == 404
    with app.extensions["hub"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 2
        assert session.get(LinkedAccount, bobs) is not None


def test_linking_gives_the_session_a_new_id_and_the_old_one_stops_working(client, idp, app):
    """Linking changes who the session vouches for (one more account), so it rotates the id as
    sign-in does: an id planted or seen before the link is worth nothing after it."""
    cookie = app.config["HUB_SESSION_COOKIE"]
    sign_in(client, idp, "alice")
    before = client.get_cookie(cookie).value
    response = link(client, idp, "fake2", "bob")
    assert response.status_code == 302
    after = client.get_cookie(cookie).value
    assert after != before  # before the fix: the same id
    assert client.get("/account").status_code == 200  # the new id is signed in
    stale = app.test_client()
    stale.set_cookie(cookie, before)
    assert stale.get("/account").status_code == 302  # the old id is signed out
    with app.extensions["hub"].db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1


def test_linking_keeps_the_applications_signed_in_through_the_session(client, idp, app):
    """Rotation moves the issuer side's SSO session to the new id: no back-channel logout."""
    from hub.core.db import write_transaction
    from hub.core.digest import digest
    from hub.core.models import SsoSession

    cookie = app.config["HUB_SESSION_COOKIE"]
    sign_in(client, idp, "alice")
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        row = session.scalars(select(WebSession)).one()
        session.add(SsoSession(sid="sid-1", session_id_hash=row.id_hash, user_id=row.user_id))
    link(client, idp, "fake2", "bob")
    with rt.db.session() as session:
        assert session.scalar(select(SsoSession.session_id_hash).where(SsoSession.sid == "sid-1")) == digest(
            client.get_cookie(cookie).value
        )
