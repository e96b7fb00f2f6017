"""The token API: API keys (hashed, revocable, audited) and on-demand access tokens as JSON."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from hub.core import apikeys
from hub.core.db import write_transaction
from hub.core.models import ApiKey, AuditEvent, LinkedAccount, TokenSet, utcnow
from hub.errors import HubError
from tests.conftest import callback_path, sign_in, start_signin


@pytest.fixture
def api_key(app) -> str:
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        return apikeys.create(session, "billing-service").plaintext


@pytest.fixture
def account_id(app, client, idp) -> int:
    sign_in(client, idp, "alice")
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(LinkedAccount.id))


def events(app, type_="api_key.use"):
    with app.extensions["hub"].db.session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)).all()


def expire_tokens(app) -> None:
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(TokenSet).values(access_expires_at=utcnow() - timedelta(minutes=1)))


def test_valid_key_gets_the_stored_access_token(app, idp, api_key, account_id):
    api = app.test_client()
    response = api.post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["access_token"] in idp.access and body["token_type"] == "Bearer"
    assert body["provider_id"] == "fake" and body["subject"] == "sub-alice"
    assert response.headers["Cache-Control"] == "no-store"
    assert idp.token_calls == 1  # the sign-in's exchange only: no refresh needed
    (event,) = events(app)
    assert event.outcome == "success" and event.details["api_key_name"] == "billing-service"


def test_expired_token_is_refreshed_through_the_provider(app, idp, api_key, account_id):
    expire_tokens(app)
    response = app.test_client().post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    assert idp.token_calls == 2
    assert [e.outcome for e in events(app, "token_refresh")] == ["success"]


def test_refused_refresh_token_answers_reauth_required_and_flags_the_account(app, idp, api_key, account_id):
    expire_tokens(app)
    idp.refresh_tokens.clear()  # the provider forgot every refresh token: invalid_grant
    response = app.test_client().post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "reauth_required"
    with app.extensions["hub"].db.session() as session:
        assert session.get(LinkedAccount, account_id).needs_reauth is True
    assert events(app)[-1].outcome == "failure"
    again = app.test_client().post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {api_key}"})
    assert again.status_code == 409 and idp.token_calls == 2  # no retry loop at the provider


def test_signing_in_again_heals_an_account_that_needed_it(app, idp, api_key, account_id):
    expire_tokens(app)
    idp.refresh_tokens.clear()
    url = f"/api/v1/accounts/{account_id}/access-token"
    headers = {"Authorization": f"Bearer {api_key}"}
    assert app.test_client().post(url, headers=headers).status_code == 409
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(TokenSet).values(refresh_failures=2))
    sign_in(app.test_client(), idp, "alice")
    with app.extensions["hub"].db.session() as session:
        assert session.get(LinkedAccount, account_id).needs_reauth is False
        assert session.scalar(select(TokenSet.refresh_failures)) == 0
    healed = app.test_client().post(url, headers=headers)
    assert healed.status_code == 200 and healed.get_json()["access_token"] in idp.access


@pytest.mark.parametrize(
    "header, code",
    [(None, "api_key_invalid"), ("Bearer hub_nope_nope", "api_key_invalid"), ("Basic abc", "api_key_invalid")],
)
def test_missing_or_unknown_key_is_refused_and_audited(app, account_id, header, code):
    headers = {"Authorization": header} if header else {}
    response = app.test_client().post(f"/api/v1/accounts/{account_id}/access-token", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == code
    assert [(e.outcome, e.details["reason"]) for e in events(app)] == [("failure", code)]


def test_revoked_key_stops_working(app, api_key, account_id):
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        apikeys.revoke(session, 1)
    response = app.test_client().post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "api_key_revoked"


def test_key_is_stored_only_as_a_hash(app, api_key):
    with app.extensions["hub"].db.engine.connect() as connection:
        rows = connection.execute(text("SELECT prefix, secret_hash FROM api_keys")).all()
    secret = api_key.split("_", 2)[2]
    assert all(secret not in "".join(map(str, row)) for row in rows)


def test_lookup_by_provider_and_subject_and_by_verified_email(app, client, idp, api_key, account_id):
    api = app.test_client()
    headers = {"Authorization": f"Bearer {api_key}"}
    by_subject = api.post("/api/v1/access-token", json={"provider_id": "fake", "subject": "sub-alice"}, headers=headers)
    assert by_subject.status_code == 200 and by_subject.get_json()["linked_account_id"] == account_id
    unverified = api.post("/api/v1/access-token", json={"email": "alice@example.test", "provider_id": "fake"}, headers=headers)
    assert unverified.status_code == 404  # the fake provider did not verify alice's address
    idp.users["bob"].email_verified = True
    url = start_signin(client, "fake2", intent="link")
    client.get(callback_path(idp.authorize(url, "bob")))
    chosen = api.post("/api/v1/access-token", json={"email": "bob@example.test", "provider_id": "fake2"}, headers=headers)
    assert chosen.status_code == 200 and chosen.get_json()["subject"] == "sub-bob"
    elsewhere = api.post("/api/v1/access-token", json={"email": "bob@example.test", "provider_id": "fake"}, headers=headers)
    assert elsewhere.status_code == 404
    missing = api.post("/api/v1/access-token", json={"provider_id": "fake", "subject": "nobody"}, headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    bad = api.post("/api/v1/access-token", json={"colour": "blue"}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"


def test_api_is_not_reachable_by_a_browser_session_alone(app, client, idp, account_id):
    response = client.post(f"/api/v1/accounts/{account_id}/access-token")  # signed-in cookie, no key
    assert response.status_code == 401


def test_no_tokens_for_a_disabled_user(app, idp, api_key, account_id):
    from hub.core.models import User

    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(User).values(disabled_at=utcnow()))
    expire_tokens(app)
    response = app.test_client().post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "user_disabled"
    assert idp.token_calls == 1  # the sign-in's only: no refresh for a disabled user
    assert (events(app)[-1].outcome, events(app)[-1].details["reason"]) == ("failure", "user_disabled")


# --- scope and expiry (issue 17) ------------------------------------------------------------------


def scoped_key(app, **options) -> apikeys.NewApiKey:
    with write_transaction(app.extensions["hub"].db) as session:
        return apikeys.create(session, "scoped-service", **options)


def test_a_key_scoped_to_other_providers_neither_fetches_nor_probes_this_one(app, idp, account_id):
    key = scoped_key(app, providers=["fake2"])
    api = app.test_client()
    headers = {"Authorization": f"Bearer {key.plaintext}"}
    by_id = api.post(f"/api/v1/accounts/{account_id}/access-token", headers=headers)
    assert by_id.status_code == 403 and by_id.get_json()["error"]["code"] == "api_key_scope"
    probe = api.post("/api/v1/access-token", json={"provider_id": "fake", "subject": "sub-nobody"}, headers=headers)
    assert probe.status_code == 403 and probe.get_json()["error"]["code"] == "api_key_scope"
    refusals = [e for e in events(app) if e.outcome == "failure"]
    assert refusals and all(e.details["api_key_id"] == key.row.id for e in refusals)
    allowed = scoped_key(app, providers=["fake"])
    ok = api.post(f"/api/v1/accounts/{account_id}/access-token", headers={"Authorization": f"Bearer {allowed.plaintext}"})
    assert ok.status_code == 200


def test_an_expired_key_stops_working_and_its_use_names_it(app, idp, account_id):
    key = scoped_key(app, expires_at=utcnow() + timedelta(days=1))
    api = app.test_client()
    headers = {"Authorization": f"Bearer {key.plaintext}"}
    assert api.post(f"/api/v1/accounts/{account_id}/access-token", headers=headers).status_code == 200
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    refused = api.post(f"/api/v1/accounts/{account_id}/access-token", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "api_key_expired"
    (event,) = [e for e in events(app) if e.outcome == "failure"]
    assert event.details["api_key_id"] == key.row.id and event.details["reason"] == "api_key_expired"


def test_a_key_cannot_be_made_with_an_empty_scope_or_a_past_expiry(app):
    with pytest.raises(HubError, match="scope"):
        scoped_key(app, providers=[" "])
    with pytest.raises(HubError, match="future"):
        scoped_key(app, expires_at=utcnow() - timedelta(days=1))


def test_the_console_shows_each_keys_scope_and_expiry(app, admin):
    scoped_key(app, providers=["fake2", "fake"], expires_at=utcnow() + timedelta(days=30))
    page = admin.get("/admin/api-keys")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "scoped-service" in text and "fake, fake2" in text and "active" in text
    assert (utcnow() + timedelta(days=30)).strftime("%Y-%m-%d") in text
