"""The provider-agnostic sign-in engine, through the fake provider plugin (catalogue B01-B08,
C01, R01, R02, R07, S01)."""

from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from hub.core.models import AuditEvent, LinkedAccount, PendingSignin, TokenSet, User, WebSession, utcnow
from tests.conftest import callback_path, csrf_of, sign_in, start_signin


def count(app, model) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def audit_events(app, type_=None):
    with app.extensions["hub"].db.session() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if type_:
            query = query.where(AuditEvent.type == type_)
        return session.scalars(query).all()


def assert_nothing_written(app):
    assert count(app, User) == 0
    assert count(app, LinkedAccount) == 0
    assert count(app, TokenSet) == 0
    assert count(app, WebSession) == 0


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_authorization_request_carries_state_pkce_nonce_and_configured_redirect(client):
    url = start_signin(client)
    query = query_of(url)
    assert url.startswith("https://idp.test/authorize?")
    assert len(query["state"]) >= 43  # 256 bits of base64url
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["nonce"] and query["nonce"] != query["state"]
    assert query["redirect_uri"] == "http://localhost:5001/auth/fake/callback"


def test_states_differ_per_attempt_and_both_stay_valid(client, idp, app):
    first, second = start_signin(client), start_signin(client)
    assert query_of(first)["state"] != query_of(second)["state"]
    assert count(app, PendingSignin) == 2
    response = client.get(callback_path(idp.authorize(first, "alice")))
    assert response.status_code == 302


def test_redirect_uri_ignores_host_and_forwarded_headers(client):
    token = csrf_of(client)
    response = client.post(
        "/auth/fake/start",
        data={"csrf_token": token},
        headers={"X-Forwarded-Host": "evil.test", "Forwarded": "host=evil.test", "X-Forwarded-Proto": "https"},
    )
    assert query_of(response.headers["Location"])["redirect_uri"] == "http://localhost:5001/auth/fake/callback"


def test_happy_path_creates_user_account_tokens_session_and_audit(client, idp, app):
    response = sign_in(client, idp, "alice", next="/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    cookie = response.headers.get_all("Set-Cookie")
    session_cookie = next(c for c in cookie if c.startswith("hub_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Path=/" in session_cookie
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert count(app, User) == 1 and count(app, LinkedAccount) == 1 and count(app, TokenSet) == 1
    with app.extensions["hub"].db.session() as session:
        account = session.scalars(select(LinkedAccount)).one()
        assert (account.provider_id, account.subject) == ("fake", "sub-alice")
        assert account.email == "alice@example.test" and account.profile["job_title"] == "Engineer"
    events = audit_events(app, "signin")
    assert [(e.outcome, e.provider_id) for e in events] == [("success", "fake")]
    page = client.get("/account").get_data(as_text=True)
    assert "Alice Admin" in page and "alice@example.test" in page


def test_second_sign_in_reuses_the_linked_account(client, idp, app):
    sign_in(client, idp, "alice")
    idp.users["alice"].name = "Alice Renamed"
    sign_in(client, idp, "alice")
    assert count(app, User) == 1 and count(app, LinkedAccount) == 1
    with app.extensions["hub"].db.session() as session:
        assert session.scalars(select(LinkedAccount)).one().display_name == "Alice Renamed"


def test_a_returning_sign_in_refreshes_the_account_and_fills_only_what_the_user_lacks(client, idp, app):
    sign_in(client, idp, "alice")
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(User).values(display_name="Alice (set by an admin)", email=None, last_sign_in_at=None))
        session.execute(update(LinkedAccount).values(needs_reauth=True, roles=[], last_sign_in_at=None))
    alice = idp.users["alice"]
    alice.name, alice.email, alice.email_verified, alice.roles, alice.job = (
        "Alice Renamed", "alice@new.example", True, ["admin", "auditor"], "Director",
    )
    sign_in(app.test_client(), idp, "alice")
    with app.extensions["hub"].db.session() as session:
        user = session.scalars(select(User)).one()
        account = session.scalars(select(LinkedAccount)).one()
    assert user.display_name == "Alice (set by an admin)"  # never overwritten from a profile
    assert user.email == "alice@new.example"  # missing, so filled in
    assert user.last_sign_in_at is not None and account.last_sign_in_at is not None
    assert (account.display_name, account.email, account.email_verified) == ("Alice Renamed", "alice@new.example", True)
    assert account.roles == ["admin", "auditor"] and account.profile["job_title"] == "Director"
    assert account.needs_reauth is False
    (event,) = [e for e in audit_events(app, "signin") if e.details.get("first_sign_in") is False]
    assert event.details["linked_account_id"] == account.id and event.subject_user_id == user.id


def test_a_disabled_user_cannot_sign_in_again_and_nothing_changes(client, idp, app):
    sign_in(client, idp, "alice")
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(User).values(disabled_at=utcnow()))
    idp.users["alice"].name = "Alice Renamed"
    before = (count(app, WebSession), count(app, TokenSet))
    response = sign_in(app.test_client(), idp, "alice")
    assert response.status_code == 403
    assert (count(app, WebSession), count(app, TokenSet)) == before
    with app.extensions["hub"].db.session() as session:
        assert session.scalars(select(LinkedAccount)).one().display_name == "Alice Admin"
    assert audit_events(app, "signin")[-1].details["reason"] == "user_disabled"


def test_same_email_at_provider_never_links_to_existing_user(client, idp, app):
    sign_in(client, idp, "alice")
    sign_in(app.test_client(), idp, "mallory")  # same email, other subject
    assert count(app, User) == 2


@pytest.mark.parametrize(
    "query, code",
    [
        ("code=abc", "state_missing"),
        ("code=abc&state=" + "x" * 43, "state_unknown"),
    ],
)
def test_missing_or_unknown_state_is_refused_before_any_token_request(client, idp, app, query, code):
    client.get("/login")
    response = client.get(f"/auth/fake/callback?{query}")
    assert response.status_code == 400
    assert "This sign-in link has expired" in response.get_data(as_text=True)
    assert idp.token_calls == 0
    assert_nothing_written(app)
    assert [(e.outcome, e.details["reason"]) for e in audit_events(app, "signin")] == [("failure", code)]


def test_replayed_callback_is_refused_without_second_redemption(client, idp, app):
    url = idp.authorize(start_signin(client), "alice")
    first = client.get(callback_path(url))
    assert first.status_code == 302
    assert idp.token_calls == 1
    second = client.get(callback_path(url))
    assert second.status_code == 400
    assert idp.token_calls == 1
    assert client.get("/account").status_code == 200  # first session intact
    assert audit_events(app, "signin")[-1].details["reason"] == "state_unknown"


def test_expired_pending_signin_is_refused(client, idp, app):
    url = idp.authorize(start_signin(client), "alice")
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(PendingSignin).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get(callback_path(url))
    assert response.status_code == 400
    assert idp.token_calls == 0
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "state_expired"


def test_state_for_one_provider_is_refused_at_another(app, client, idp):
    """Mix-up defence: the provider id is bound to the state."""
    url = idp.authorize(start_signin(client, "fake"), "alice")
    query = urlsplit(url).query
    assert client.get(f"/auth/nosuch/callback?{query}").status_code == 404
    response = client.get(f"/auth/fake2/callback?{query}")
    assert response.status_code == 400
    assert idp.token_calls == 0
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "state_wrong_provider"


def test_callback_in_another_browser_is_refused(app, client, idp):
    url = idp.authorize(start_signin(client), "alice")
    other = app.test_client()
    other.get("/login")
    response = other.get(callback_path(url))
    assert response.status_code == 400
    assert "another browser" in response.get_data(as_text=True)
    assert idp.token_calls == 0
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "state_other_browser"


def test_provider_error_answer_is_escaped_and_audited(client, idp, app):
    state = query_of(start_signin(client))["state"]
    description = "<script>alert(1)</script> user said no"
    response = client.get(
        "/auth/fake/callback", query_string={"error": "access_denied", "error_description": description, "state": state}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in body
    assert html.escape(description) in body
    assert "access_denied" in body
    assert idp.token_calls == 0
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "provider_denied"


def test_wrong_nonce_is_rejected(client, idp, app):
    idp.wrong_nonce = True
    response = sign_in(client, idp, "alice")
    assert response.status_code == 400
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "token_rejected"


@pytest.mark.parametrize("where", ["token", "me"])
def test_provider_failure_after_state_claim_writes_nothing(client, idp, app, where):
    setattr(idp, f"{where}_status", 500)
    response = sign_in(client, idp, "alice")
    assert response.status_code == 503
    assert "not answering" in response.get_data(as_text=True)
    assert_nothing_written(app)
    assert count(app, PendingSignin) == 0  # consumed all the same
    assert audit_events(app, "signin")[-1].details["reason"] == "provider_unavailable"


def test_database_failure_at_commit_rolls_back_and_sets_no_cookie(client, idp, app, monkeypatch):
    rt = app.extensions["hub"]

    def broken_store(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rt.vault, "store", broken_store)
    response = sign_in(client, idp, "alice")
    assert response.status_code == 500
    assert "disk full" not in response.get_data(as_text=True)
    assert not any(c.startswith("hub_session=") for c in response.headers.get_all("Set-Cookie"))
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "internal_error"


@pytest.mark.parametrize(
    "next_value",
    ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)", "\\\\evil", "/ok\r\nSet-Cookie: x"],
)
def test_next_never_leaves_the_site(client, idp, next_value):
    response = sign_in(client, idp, "alice", next=next_value)
    assert response.headers["Location"] == "/account"


@pytest.mark.parametrize("form", [{}, {"next": "/"}])
def test_a_sign_in_bound_for_the_start_page_lands_on_the_account_page_in_one_redirect(client, idp, form):
    """"/" would only redirect a signed-in person to /account: the callback goes there itself."""
    response = sign_in(client, idp, "alice", **form)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    landed = client.get(response.headers["Location"])
    assert landed.status_code == 200 and "Alice Admin" in landed.get_data(as_text=True)
    assert client.get("/").headers["Location"] == "/account"  # what the callback saved a request on


def test_next_relative_path_is_kept(client, idp):
    response = sign_in(client, idp, "alice", next="/account?tab=links")
    assert response.headers["Location"] == "/account?tab=links"


def test_policy_hook_can_refuse_a_sign_in(app, client, idp, plugins):
    class NoBob:
        hub_api_version = 1

        from hub import hookimpl

        @hookimpl
        def hub_signin_policy(self, provider_id, identity, profile, intent):
            return "Bob may not enter." if identity.subject == "sub-bob" else None

    plugins.register(NoBob(), "no-bob")
    response = sign_in(client, idp, "bob")
    assert response.status_code == 403
    assert "Bob may not enter." in response.get_data(as_text=True)
    assert_nothing_written(app)
    assert audit_events(app, "signin")[-1].details["reason"] == "policy_denied"
    assert sign_in(app.test_client(), idp, "alice").status_code == 302


def test_disabled_user_cannot_sign_in(client, idp, app):
    sign_in(client, idp, "alice")
    from hub.core.models import utcnow

    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(User).values(disabled_at=utcnow()))
    assert client.get("/account").status_code == 302  # session no longer valid
    response = sign_in(app.test_client(), idp, "alice")
    assert response.status_code == 403


def test_concurrent_claims_of_one_state_give_the_pending_sign_in_to_exactly_one(app, client):
    """Eight callbacks with the same state at once (a double-clicked or replayed redirect):
    the pending sign-in's single DELETE ... RETURNING hands it to one of them only."""
    import threading

    from hub.core.db import write_transaction
    from hub.upstream import signin

    state = parse_qs(urlsplit(start_signin(client)).query)["state"][0]
    rt = app.extensions["hub"]
    barrier = threading.Barrier(8)
    won: list[str] = []

    def claim() -> None:
        barrier.wait(timeout=10)
        with write_transaction(rt.db) as session:
            pending = signin.claim(session, state)
        if pending is not None:
            won.append(pending.provider_id)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert won == ["fake"]
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PendingSignin)) == 0
