"""The admin console's doors and actions: who may enter, CSRF, confirmation, audit of every action."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.models import AuditEvent, LinkedAccount, TokenSet, User, WebSession
from tests import fakeidp
from tests.conftest import callback_path, csrf_of, sign_in, start_signin

PAGES = ["/admin", "/admin/accounts", "/admin/accounts.csv", "/admin/users/1", "/admin/audit", "/admin/audit.csv", "/admin/providers", "/admin/users/1/confirm/disable_user"]
ACTIONS = ["unlink", "revoke_tokens", "disable_user", "enable_user", "signout_everywhere", "grant", "revoke"]


def db(app):
    return app.extensions["hub"].db.sessions()


def user_id_of(app, email: str) -> int:
    with db(app) as session:
        return session.scalar(select(User.id).where(User.email == email))


def events(app, type_: str):
    with db(app) as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)).all()


def snapshot(app):
    """Everything an admin action could change."""
    with db(app) as session:
        return (
            session.execute(select(User.id, User.is_admin, User.disabled_at).order_by(User.id)).all(),
            session.execute(select(LinkedAccount.id, LinkedAccount.user_id).order_by(LinkedAccount.id)).all(),
            session.scalars(select(TokenSet.id).order_by(TokenSet.id)).all(),
            session.scalar(select(WebSession.id_hash).where(WebSession.user_id == 2).limit(1)) is not None,
        )


@pytest.fixture
def people(app, idp):
    """alice (admin by provider role, user 1) and bob (user 2, with a second account at fake2)."""
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, idp, "alice")
    sign_in(bob, idp, "bob")
    url = start_signin(bob, "fake2", intent="link", next="/account")
    bob.get(callback_path(idp.authorize(url, "mallory")))
    assert user_id_of(app, "alice@example.test") == 1 and user_id_of(app, "bob@example.test") == 2
    return alice, bob


def account_of(app, user_id: int, provider: str = "fake") -> int:
    with db(app) as session:
        return session.scalar(select(LinkedAccount.id).where(LinkedAccount.user_id == user_id, LinkedAccount.provider_id == provider))


def post_action(client, action: str, user_id: int = 2, account: int | None = None, **form):
    data = {"csrf_token": csrf_of(client, "/account"), "confirm": "yes", **form}
    if account is not None:
        data["account"] = str(account)
    return client.post(f"/admin/users/{user_id}/{action}", data=data)


# --- who may enter ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_sign_in_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert "%2Fadmin" in response.headers["Location"]


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_post_changes_nothing(app, people, action):
    before = snapshot(app)
    anonymous = app.test_client()
    token = csrf_of(anonymous, "/login")
    response = anonymous.post(f"/admin/users/2/{action}", data={"csrf_token": token, "confirm": "yes", "account": "2"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert snapshot(app) == before


@pytest.mark.parametrize("path", PAGES)
def test_non_admin_gets_403_and_is_audited(app, people, path):
    _, bob = people
    response = bob.get(path)
    assert response.status_code == 403
    assert "for administrators" in response.get_data(as_text=True)
    refused = events(app, "admin.access")[-1]
    assert (refused.outcome, refused.actor_user_id, refused.details["path"]) == ("failure", 2, path.split("?")[0])


def test_non_admin_cannot_reach_another_users_page(app, people):
    """IDOR: bob cannot read alice's detail page by guessing her number."""
    _, bob = people
    response = bob.get("/admin/users/1")
    assert response.status_code == 403
    assert "alice@example.test" not in response.get_data(as_text=True)


@pytest.mark.parametrize("action", ACTIONS)
def test_non_admin_actions_are_refused_audited_and_change_nothing(app, people, action):
    _, bob = people
    before = snapshot(app)
    response = post_action(bob, action, user_id=1, account=1)
    assert response.status_code == 403
    assert snapshot(app) == before
    refused = events(app, "admin.access")
    assert len(refused) == 1 and refused[0].actor_user_id == 2 and refused[0].details["method"] == "POST"


def test_role_cannot_be_passed_as_a_request_parameter(app, people):
    _, bob = people
    for path in ["/admin?is_admin=1&role=admin", "/admin/accounts?roles=admin&admin=true"]:
        assert bob.get(path, headers={"X-Role": "admin", "X-Admin": "1"}).status_code == 403
    before = snapshot(app)
    response = post_action(bob, "grant", user_id=2, role="admin", is_admin="1", roles="admin")
    assert response.status_code == 403
    assert snapshot(app) == before


def test_admin_granted_by_the_hub_enters_without_a_provider_role(app, people, idp):
    _, bob = people
    with db(app) as session:
        assert session.scalars(select(WebSession.roles).where(WebSession.user_id == 2)).all() == [[]]
        assert session.scalars(select(LinkedAccount.roles).where(LinkedAccount.user_id == 2)).all() == [[], []]
    assert bob.get("/admin").status_code == 403
    with db(app) as session, session.begin():
        session.get(User, 2).is_admin = True
    page = bob.get("/admin")
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.get_data(as_text=True)


def test_admin_nav_link_only_for_admins(people):
    alice, bob = people
    assert 'href="/admin"' in alice.get("/account").get_data(as_text=True)
    assert 'href="/admin"' not in bob.get("/account").get_data(as_text=True)


# --- CSRF, confirmation, no GET changes ---------------------------------------------------------


def test_forged_post_without_csrf_token_is_refused_and_changes_nothing(app, people):
    alice, _ = people
    before = snapshot(app)
    response = alice.post("/admin/users/2/disable_user", data={"confirm": "yes"})
    assert response.status_code == 400
    assert snapshot(app) == before
    refused = events(app, "request.admin.act")[-1]
    assert (refused.outcome, refused.actor_user_id, refused.details["reason"]) == ("failure", 1, "csrf_token")


def test_cross_site_origin_is_refused(app, people):
    alice, _ = people
    before = snapshot(app)
    response = alice.post(
        "/admin/users/2/signout_everywhere",
        data={"csrf_token": csrf_of(alice, "/account"), "confirm": "yes"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 400
    assert snapshot(app) == before


def test_action_without_confirmation_is_refused_and_audited(app, people):
    alice, _ = people
    before = snapshot(app)
    response = alice.post("/admin/users/2/disable_user", data={"csrf_token": csrf_of(alice, "/account")})
    assert response.status_code == 409
    assert "not confirmed" in response.get_data(as_text=True)
    assert snapshot(app) == before
    failure = events(app, "admin.disable_user")[-1]
    assert (failure.outcome, failure.actor_user_id, failure.subject_user_id, failure.details["reason"]) == ("failure", 1, 2, "not_confirmed")


@pytest.mark.parametrize("action", ACTIONS)
def test_get_never_changes_state(app, people, action):
    alice, _ = people
    before = snapshot(app)
    assert alice.get(f"/admin/users/2/{action}?confirm=yes&account=2").status_code == 405
    page = alice.get(f"/admin/users/2/confirm/{action}?account={account_of(app, 2)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="confirm" value="yes"' in html and 'name="csrf_token"' in html
    assert no_inline_script(html)
    assert snapshot(app) == before


# --- the actions --------------------------------------------------------------------------------


def assert_audited(app, action: str, provider_id: str | None = None, event_type: str | None = None):
    event = events(app, event_type or f"admin.{action}")[-1]
    assert (event.outcome, event.actor_user_id, event.subject_user_id) == ("success", 1, 2)
    assert event.ip and event.request_id
    if provider_id:
        assert event.provider_id == provider_id
    return event


def test_signout_everywhere_ends_the_users_sessions(app, people):
    alice, bob = people
    response = post_action(alice, "signout_everywhere")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/users/2?done=signout_everywhere"
    assert bob.get("/account").status_code == 302
    assert assert_audited(app, "signout_everywhere").details["sessions_ended"] == 1
    assert "All the user" in alice.get(response.headers["Location"]).get_data(as_text=True)


def test_disable_ends_sessions_and_blocks_sign_in_then_enable(app, people, idp):
    alice, bob = people
    assert post_action(alice, "disable_user").status_code == 303
    assert bob.get("/account").status_code == 302
    with db(app) as session:
        assert session.get(User, 2).disabled_at is not None
    assert_audited(app, "disable_user")
    again = sign_in(app.test_client(), idp, "bob")
    assert again.status_code == 403
    assert post_action(alice, "enable_user").status_code == 303
    assert_audited(app, "enable_user")
    assert sign_in(app.test_client(), idp, "bob").status_code == 302


def test_grant_and_revoke_admin(app, people):
    alice, bob = people
    assert post_action(alice, "grant").status_code == 303
    assert bob.get("/admin").status_code == 200
    assert_audited(app, "grant")
    assert post_action(alice, "revoke").status_code == 303
    assert bob.get("/admin").status_code == 403
    assert_audited(app, "revoke")


def test_unlink_removes_the_account_and_its_tokens(app, people, monkeypatch):
    alice, _ = people
    revoked = []
    monkeypatch.setattr(fakeidp.FakeProvider, "revoke", lambda self, tokens: revoked.append((self.id, bool(tokens.access_token))), raising=False)
    account = account_of(app, 2, "fake2")
    assert post_action(alice, "unlink", account=account).status_code == 303
    with db(app) as session:
        assert session.get(LinkedAccount, account) is None
        assert session.scalar(select(TokenSet).where(TokenSet.linked_account_id == account)) is None
    assert revoked == [("fake2", True)]
    event = assert_audited(app, "unlink", "fake2", event_type="unlink")
    assert event.details == {"linked_account_id": account, "provider_revocation": "revoked at the provider", "sessions_ended": 0, "application_grants_revoked": 0, "via": "console"}


def test_unlink_refuses_the_last_account_audits_and_changes_nothing(app, people):
    alice, _ = people
    post_action(alice, "unlink", account=account_of(app, 2, "fake2"))
    before = snapshot(app)
    response = post_action(alice, "unlink", account=account_of(app, 2, "fake"))
    assert response.status_code == 409
    assert "last linked account" in response.get_data(as_text=True)
    assert snapshot(app) == before
    failure = events(app, "unlink")[-1]
    assert (failure.outcome, failure.actor_user_id, failure.details["reason"]) == ("failure", 1, "unlink_refused")


def test_account_of_another_user_is_refused(app, people):
    alice, _ = people
    before = snapshot(app)
    response = post_action(alice, "revoke_tokens", user_id=2, account=account_of(app, 1))
    assert response.status_code == 404
    assert snapshot(app) == before
    assert events(app, "admin.revoke_tokens")[-1].outcome == "failure"


def test_revoke_tokens_deletes_the_token_set_even_when_the_provider_fails(app, people, monkeypatch, caplog):
    alice, _ = people

    def failing(self, tokens):
        raise RuntimeError("provider down")

    monkeypatch.setattr(fakeidp.FakeProvider, "revoke", failing, raising=False)
    account = account_of(app, 2)
    assert post_action(alice, "revoke_tokens", account=account).status_code == 303
    with db(app) as session:
        assert session.scalar(select(TokenSet).where(TokenSet.linked_account_id == account)) is None
        assert session.get(LinkedAccount, account) is not None
    event = assert_audited(app, "revoke_tokens", "fake")
    assert event.details["provider_revocation"] == "provider revocation failed (RuntimeError)"
    page = alice.get("/admin/users/2").get_data(as_text=True)
    assert "No tokens stored" in page
    again = post_action(alice, "revoke_tokens", account=account)
    assert again.status_code == 409 and events(app, "admin.revoke_tokens")[-1].outcome == "failure"


def test_admin_cannot_disable_or_demote_themselves(app, people):
    alice, _ = people
    with db(app) as session, session.begin():
        session.get(User, 1).is_admin = True
    page = alice.get("/admin/users/1").get_data(as_text=True)
    assert "you cannot disable yourself" in page
    assert ">Disable user<" not in page and ">Remove administrator<" not in page
    before = snapshot(app)
    for action in ("disable_user", "revoke"):
        response = post_action(alice, action, user_id=1)
        assert response.status_code == 409
        assert "lock out the administrator" in response.get_data(as_text=True)
        failure = events(app, f"admin.{action}")[-1]
        assert (failure.outcome, failure.actor_user_id, failure.subject_user_id) == ("failure", 1, 1)
    assert snapshot(app) == before
    assert alice.get("/admin").status_code == 200


def test_unknown_user_and_action(people):
    alice, _ = people
    assert alice.get("/admin/users/999").status_code == 404
    assert post_action(alice, "explode").status_code == 404
    assert post_action(alice, "disable_user", user_id=999).status_code == 404


def test_pages_have_stable_labels(people):
    alice, _ = people
    expectations = {
        "/admin": ["<h1>Overview</h1>", ">Linked accounts<", ">Audit log<", ">Providers<"],
        "/admin/accounts": ["<h1>Linked accounts</h1>", '<label for="q">Search</label>', ">Apply<", ">Download CSV<", '<label for="provider">Provider</label>', '<label for="state">Token state</label>', '<label for="sort">Sort</label>'],
        "/admin/users/2": [">Unlink<", ">Revoke tokens<", ">Disable user<", ">Sign out everywhere<", ">Make administrator<", "<h2>Sessions</h2>", "<h2>Recent audit events</h2>"],
        "/admin/audit": ["<h1>Audit log</h1>", ">Export JSONL<", ">Export CSV<", "Chain verified"],
        "/admin/providers": ["<h1>Providers</h1>", "<h2>Plugins</h2>"],
        "/admin/users/2/confirm/disable_user": [">Yes, disable user<", ">Cancel<"],
    }
    for path, labels in expectations.items():
        html = alice.get(path).get_data(as_text=True)
        for label in labels:
            assert label in html, (path, label)
        assert no_inline_script(html) and " style=" not in html


def no_inline_script(html: str) -> bool:
    """Scripts only from this site's static files (CSP script-src 'self'), never inline."""
    import re

    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    tags = re.findall(r"<script\b[^>]*>", html)
    return all(not body.strip() for body in scripts) and all(re.search(r'src="/static/[^"]+\.js"', tag) for tag in tags)
