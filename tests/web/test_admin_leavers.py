"""The console's parts of issue 19: each linked account's last upstream confirmation and outcome
on the user's page, and the recent leavers page; `hub admin disable` as a front door of the
one deprovisioning path (hub.actions.deprovision)."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.actions import deprovision
from hub.actions.audited import Actor
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, LinkedAccount, TokenSet, User, WebSession, utcnow
from tests.conftest import csrf_of, sign_in


def test_the_user_page_shows_each_accounts_upstream_check(app, idp):
    alice = app.test_client()
    sign_in(alice, idp, "alice")
    page = alice.get("/admin/users/1").get_data(as_text=True)
    assert "Upstream check" in page and "not checked yet" in page
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        session.execute(update(LinkedAccount).values(
            upstream_checked_at=utcnow(), upstream_outcome="transient", upstream_error="http_5xx"
        ))
    page = alice.get("/admin/users/1").get_data(as_text=True)
    assert "provider did not answer" in page and "provider said http_5xx" in page


def test_recent_leavers_lists_disables_and_upstream_refusals(app, idp):
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, idp, "alice")
    sign_in(bob, idp, "bob")
    assert alice.get("/admin/leavers").status_code == 200
    assert bob.get("/admin/leavers").status_code == 403  # the console's guard
    assert "Nobody has left yet" in alice.get("/admin/leavers").get_data(as_text=True)
    rt = app.extensions["hub"]
    with rt.db.session() as session:
        bob_account = session.scalar(select(LinkedAccount.id).where(LinkedAccount.user_id == 2))
    deprovision.end_account(rt.db, rt.audit, None, Actor(None, "upstream_check"), bob_account, provider_error="AADSTS50057")
    answer = alice.post("/admin/users/2/disable_user", data={"csrf_token": csrf_of(alice, "/account"), "confirm": "yes"})
    assert answer.status_code == 303
    page = alice.get("/admin/leavers").get_data(as_text=True)
    assert page.index("disabled by an administrator") < page.index("refused by the provider at a re-check")
    assert "AADSTS50057" in page and 'href="/admin/users/2"' in page


def test_the_cli_disables_through_the_same_path(app, idp, hub_cli):
    sign_in(app.test_client(), idp, "bob")
    result = hub_cli("admin", "disable", "1")
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output and "1 provider token set(s) deleted" in result.output
    rt = app.extensions["hub"]
    with rt.db.session() as session:
        assert session.get(User, 1).disabled_at is not None
        assert session.scalars(select(WebSession)).all() == [] and session.scalars(select(TokenSet)).all() == []
        event = session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.disable_user")).one()
    assert event.actor_user_id is None and event.details["via"] == "cli"
    assert event.details["provider_revocation"] == {"1": "revoked at the provider"}
    assert hub_cli("admin", "enable", "1").exit_code == 0
