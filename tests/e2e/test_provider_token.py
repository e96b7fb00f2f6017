"""`GET /api/v1/me/provider-token`: an application exchanges a person's hub access token (scope
`provider_tokens`) for their valid upstream access token, refreshed through the vault, never
expired; refused without the scope, after "Remove access", for a disabled person, for an account
that must sign in again; every call audited with the application's name."""

from __future__ import annotations

from datetime import datetime, timedelta

import requests
from sqlalchemy import select, update

from hub.core.db import write_transaction
from hub.core.models import AuditEvent, Grant, LinkedAccount, TokenSet, User, utcnow
from hub.issuer import consent as grants

SCOPE = "openid profile provider_tokens"


def ask(issuer, access_token: str | None, provider: str | None = "fake") -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    params = {"provider": provider} if provider else {}
    return requests.get(f"{issuer.base}/api/v1/me/provider-token", params=params, headers=headers, timeout=10)


def signed_in_app(issuer, scope: str = SCOPE):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki, scope=scope)
    return wiki, issuer.redeem(oauth, issuer.authorize_allowing(oauth))  # the person allows provider_tokens


def events(issuer) -> list[AuditEvent]:
    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == "provider_token.use").order_by(AuditEvent.seq)))


def alice(issuer) -> User:
    with issuer.rt.db.session() as session:
        return session.scalars(select(User).where(User.display_name == "Alice Admin")).one()


def stored_access_token(issuer) -> str:
    with issuer.rt.db.session() as session:
        token_set = session.scalars(select(TokenSet)).one()
        return issuer.rt.vault.read(token_set).access_token


def test_the_persons_upstream_token_is_handed_to_the_application(issuer):
    wiki, token = signed_in_app(issuer)
    answer = ask(issuer, token["access_token"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"].startswith("no-store")
    body = answer.json()
    assert body["access_token"] == stored_access_token(issuer)
    assert body["access_token"] in issuer.idp.access  # the fake provider's own live token
    assert body["token_type"] == "Bearer" and body["provider"] == "fake"
    [event] = events(issuer)
    assert event.outcome == "success" and event.details["application"] == "Wiki"
    assert event.details["client_id"] == wiki.client_id and event.subject_user_id == alice(issuer).id
    assert (event.actor_user_id, event.details["via"], event.details["caller"]) == (None, "api", "application")
    assert body["access_token"] not in str(event.details)


def test_an_expired_upstream_token_is_refreshed_first_never_handed_out(issuer):
    _, token = signed_in_app(issuer)
    old = stored_access_token(issuer)
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(TokenSet).values(access_expires_at=utcnow() - timedelta(minutes=1)))
    calls = issuer.idp.token_calls
    body = ask(issuer, token["access_token"]).json()
    assert issuer.idp.token_calls == calls + 1  # one refresh at the provider
    assert body["access_token"] != old and body["access_token"] == stored_access_token(issuer)
    assert datetime.fromisoformat(body["expires_at"]) > utcnow() + timedelta(minutes=30)


def test_without_the_provider_tokens_scope_it_is_refused(issuer):
    _, token = signed_in_app(issuer, scope="openid profile")
    answer = ask(issuer, token["access_token"])
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    [event] = events(issuer)
    assert (event.outcome, event.details["reason"], event.details["application"]) == ("failure", "insufficient_scope", "Wiki")


def test_no_token_or_a_forged_one_is_refused(issuer):
    signed_in_app(issuer)
    for presented in (None, "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."):
        answer = ask(issuer, presented)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_token"
        assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    # anyone can send these: counted per address, the first of the minute audited (hub.web.flood)
    (event,) = events(issuer)
    assert event.details["reason"] == "invalid_token" and event.details["count"] == 1


def test_after_remove_access_the_token_no_longer_works(issuer):
    wiki, token = signed_in_app(issuer)
    assert ask(issuer, token["access_token"]).status_code == 200
    with write_transaction(issuer.rt.db) as session:
        application_id = session.scalar(select(Grant.application_id))
        grants.remove(session, alice(issuer).id, application_id)
    assert ask(issuer, token["access_token"]).status_code == 401


def test_a_disabled_person_gets_nothing(issuer):
    _, token = signed_in_app(issuer)
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(User).values(disabled_at=utcnow()))
    answer = ask(issuer, token["access_token"])
    assert answer.status_code == 401 and "access_token" not in answer.json()


def test_an_account_that_must_sign_in_again_is_refused(issuer):
    _, token = signed_in_app(issuer)
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(LinkedAccount).values(needs_reauth=True))
    answer = ask(issuer, token["access_token"])
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "reauth_required"
    assert events(issuer)[-1].details["reason"] == "reauth_required"


def test_the_provider_must_be_named_and_linked(issuer):
    _, token = signed_in_app(issuer)
    missing = ask(issuer, token["access_token"], provider=None)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "bad_request"
    unlinked = ask(issuer, token["access_token"], provider="fake2")
    assert unlinked.status_code == 404 and unlinked.json()["error"]["code"] == "not_found"
