"""Issue 9 §2: sessions and accounts stay consistent.

Ending an account's access ends the sessions that signed in through it, in the same
transaction, with the count in the audit event; concurrent unlinks never leave a user without
an account; provider-supplied text never breaks a sign-in; an uninstalled provider's accounts
answer 503 and its sessions end.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hub.app import create_app
from hub.core import accounts, apikeys
from hub.core.config import load_settings
from hub.core.db import Database, write_transaction
from hub.core.models import AuditEvent, LinkedAccount, User, WebSession
from tests import fakeidp
from tests.conftest import callback_path, csrf_of, sign_in, start_signin


def events(app, type_: str) -> list[AuditEvent]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def account_id(app, provider: str, subject: str) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(
            select(LinkedAccount.id).where(LinkedAccount.provider_id == provider, LinkedAccount.subject == subject)
        )


@pytest.fixture
def carol_linked_to_bob(app, idp) -> dict[str, Any]:
    """The red team's scenario: Bob links Carol's account at fake2 (admin by the provider's
    role); a second browser signs in with that account and is Bob-with-admin."""
    idp.users["carol"] = fakeidp.FakeUser("sub-carol", "Carol Chen", "carol@example.test", ["admin"])
    alice, bob, carols_browser = app.test_client(), app.test_client(), app.test_client()
    sign_in(alice, idp, "alice")  # an administrator by her provider role
    sign_in(bob, idp, "bob")
    url = start_signin(bob, "fake2", intent="link", next="/account")
    bob.get(callback_path(idp.authorize(url, "carol")))
    carols_browser.get(callback_path(idp.authorize(start_signin(carols_browser, "fake2"), "carol")))
    assert carols_browser.get("/admin").status_code == 200
    with app.extensions["hub"].db.session() as session:
        bob_id = session.scalar(select(LinkedAccount.user_id).where(LinkedAccount.subject == "sub-bob"))
    return {"alice": alice, "bob": bob, "carols_browser": carols_browser, "bob_id": bob_id,
            "account": account_id(app, "fake2", "sub-carol")}


def admin_post(client, action: str, user_id: int, account: int):
    data = {"csrf_token": csrf_of(client, "/account"), "confirm": "yes", "account": str(account)}
    return client.post(f"/admin/users/{user_id}/{action}", data=data)


@pytest.mark.parametrize("action", ["unlink", "revoke_tokens"])
def test_admin_unlink_or_revoke_ends_the_sessions_that_came_through_the_account(app, carol_linked_to_bob, action):
    s = carol_linked_to_bob
    response = admin_post(s["alice"], action, s["bob_id"], s["account"])
    assert response.status_code == 303, response.get_data(as_text=True)
    assert s["carols_browser"].get("/admin").status_code == 302  # before the fix: 200 for 12 hours
    assert s["bob"].get("/account").status_code == 200  # Bob's own sign-in (through fake) lives on
    (event,) = events(app, {"unlink": "unlink", "revoke_tokens": "admin.revoke_tokens"}[action])
    assert event.details["sessions_ended"] == 1


def test_unlinking_your_own_account_ends_its_sessions(app, carol_linked_to_bob):
    s = carol_linked_to_bob
    response = s["bob"].post(
        f"/account/linked/{s['account']}/unlink", data={"csrf_token": csrf_of(s["bob"], "/account")}
    )
    assert response.status_code == 303
    assert s["carols_browser"].get("/admin").status_code == 302
    assert events(app, "unlink")[-1].details["sessions_ended"] == 1


def test_two_concurrent_unlinks_leave_the_user_one_account(app, idp):
    """The user row is locked before counting; without it PostgreSQL let both unlinks through.

    Each thread unlinks one of the user's two accounts and then waits (up to 3 s) for the
    other before committing, so both count before either commits unless the lock orders them.
    """
    client = app.test_client()
    sign_in(client, idp, "bob")
    client.get(callback_path(idp.authorize(start_signin(client, "fake2", intent="link"), "mallory")))
    rt = app.extensions["hub"]
    ids = [account_id(app, "fake", "sub-bob"), account_id(app, "fake2", "sub-mallory")]
    barrier = threading.Barrier(2, timeout=3)
    outcomes: list[str] = []

    def unlink(target: int) -> None:
        try:
            with write_transaction(rt.db) as session:
                accounts.unlink(session, session.get(LinkedAccount, target))
                # A broken barrier: the other unlink is waiting for our lock; commit, let it count.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
            outcomes.append("unlinked")
        except accounts.CannotUnlink:
            outcomes.append("refused")

    threads = [threading.Thread(target=unlink, args=(target,)) for target in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "unlinked"]
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LinkedAccount)) == 1


def test_an_over_long_display_name_is_clipped_and_an_over_long_subject_refused(app, client, idp):
    idp.users["long"] = fakeidp.FakeUser("sub-long", "N" * 5000, "x" * 400 + "@example.test")
    response = sign_in(client, idp, "long")
    assert response.status_code == 302, response.get_data(as_text=True)  # before the fix: 500 on PostgreSQL
    with app.extensions["hub"].db.session() as session:
        user = session.scalar(select(User))
        account = session.scalar(select(LinkedAccount))
    assert len(user.display_name) == 256 and user.display_name.endswith("…")
    assert len(account.display_name) == 256
    assert user.email is None and account.email is None  # a cut address would be someone else's

    idp.users["huge"] = fakeidp.FakeUser("s" * 300, "Huge", "huge@example.test")
    refused = sign_in(app.test_client(), idp, "huge")
    assert refused.status_code == 400 and "identity_too_long" in refused.get_data(as_text=True)


def test_database_errors_never_print_their_parameters(db: Database):
    with db.session() as session, session.begin():
        session.add(User(id=7, email="alice@example.test"))
    with pytest.raises(IntegrityError) as caught, db.session() as session, session.begin():
        session.add(User(id=7, email="alice@example.test"))
    assert "alice@example.test" not in str(caught.value)
    assert "hide_parameters" in str(caught.value)


def test_an_uninstalled_providers_sessions_end_and_its_accounts_answer_503(app, hub_config, plugins, idp):
    browser = app.test_client()
    sign_in(browser, idp, "alice")
    browser.get(callback_path(idp.authorize(start_signin(browser, "fake2", intent="link"), "bob")))
    sign_in(app.test_client(), idp, "bob")  # a session through fake
    other = app.test_client()
    other.get(callback_path(idp.authorize(start_signin(other, "fake2"), "bob")))  # one through fake2
    with app.extensions["hub"].db.session() as session:
        assert session.scalar(select(func.count()).where(WebSession.provider_id == "fake2")) == 1
    fake2_account = account_id(app, "fake2", "sub-bob")

    config = {**hub_config, "providers": {"fake": hub_config["providers"]["fake"]}}
    later = create_app(settings=load_settings(environ={}, overrides=config), plugins=plugins)
    try:
        rt = later.extensions["hub"]
        with rt.db.session() as session:
            by_provider = dict(session.execute(select(WebSession.provider_id, func.count()).group_by(WebSession.provider_id)).all())
        assert by_provider == {"fake": 2}  # before the fix: fake2's session lived on
        (event,) = events(later, "provider.unavailable")
        assert (event.provider_id, event.details["sessions_ended"]) == ("fake2", 1)
        with write_transaction(rt.db) as session:
            key = apikeys.create(session, "crm").plaintext
        response = later.test_client().post(
            f"/api/v1/accounts/{fake2_account}/access-token", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 503  # before the fix: 500 config_error
        assert response.get_json()["error"]["code"] == "provider_unavailable"
        again = create_app(settings=load_settings(environ={}, overrides=config), plugins=plugins)
        again.extensions["hub"].close()
        assert len(events(later, "provider.unavailable")) == 1  # nothing more to end, nothing audited
    finally:
        rt.close()
