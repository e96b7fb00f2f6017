"""The one deprovisioning path (hub.actions.deprovision): disabling a person from the console, or
ending an upstream account the provider refused, ends every session, refresh family, access token
and stored upstream token it admitted, queues back-channel logouts, and audits who and how."""

from __future__ import annotations

import requests
from sqlalchemy import select

from hub.actions import deprovision, users
from hub.actions.audited import Actor
from hub.core.audit import RequestContext
from hub.core.models import (
    AuditEvent,
    BackchannelLogout,
    LinkedAccount,
    TokenFamily,
    TokenSet,
    User,
    WebSession,
)


def audit(issuer, type_: str) -> list[AuditEvent]:
    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def post_token(issuer, app, **data):
    return requests.post(f"{issuer.base}/oauth2/token", data=data, auth=(app.client_id, app.client_secret), timeout=5)


def userinfo(issuer, token) -> int:
    return requests.get(
        f"{issuer.base}/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    ).status_code


def signed_in_with_two_families(issuer):
    """alice signed in at the hub, and through a back-channel-receiving application twice:
    a session-bound family and an offline_access one."""
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True, backchannel_logout_uri="http://127.0.0.1:9/logout")
    _, bound, _ = issuer.sign_in_through(wiki)
    _, offline, _ = issuer.sign_in_through(wiki, scope="openid offline_access")
    with issuer.rt.db.session() as session:
        user_id, account_id = session.execute(select(LinkedAccount.user_id, LinkedAccount.id)).one()
    assert userinfo(issuer, bound) == 200 and userinfo(issuer, offline) == 200
    return wiki, bound, offline, user_id, account_id


def assert_cut_off(issuer, wiki, bound, offline, user_id, reason):
    for token in (bound, offline):
        refused = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        assert userinfo(issuer, token) == 401
    with issuer.rt.db.session() as session:
        assert session.scalars(select(WebSession).where(WebSession.user_id == user_id)).all() == []
        assert session.scalars(select(TokenSet)).all() == []
        assert set(session.scalars(select(TokenFamily.revoked_reason)).all()) <= {reason}
        logouts = session.scalars(select(BackchannelLogout)).all()
    assert [row.reason for row in logouts] == [reason]
    assert issuer.get("/account").status_code == 302  # the browser's hub session is over


def test_disabling_a_person_cuts_off_every_application_and_the_provider_tokens(issuer, monkeypatch):
    wiki, bound, offline, user_id, _ = signed_in_with_two_families(issuer)
    revoked = []
    with issuer.rt.db.session() as session:
        admin = User(display_name="Admin", is_admin=True)
        session.add(admin)
        session.commit()
        admin_id = admin.id

    def revoke_upstream(account_id: int, provider_id: str) -> str:
        revoked.append((account_id, provider_id))
        return "revoked at the provider"

    cut = users.disable(issuer.rt.db, issuer.rt.audit, revoke_upstream, Actor(admin_id, "console", RequestContext()), user_id)
    assert (cut.sessions_ended, cut.application_grants_revoked, cut.upstream_token_sets_deleted) == (1, 2, 1)
    assert revoked == [(1, "fake")]
    assert_cut_off(issuer, wiki, bound, offline, user_id, "user_disabled")
    event = audit(issuer, "admin.disable_user")[-1]
    assert event.actor_user_id == admin_id and event.details["via"] == "console"
    assert event.details["provider_revocation"] == {"1": "revoked at the provider"}


def test_an_upstream_account_refused_for_good_ends_what_it_admitted(issuer):
    wiki, bound, offline, user_id, account_id = signed_in_with_two_families(issuer)
    cut = deprovision.end_account(
        issuer.rt.db, issuer.rt.audit, None, Actor(None, "upstream_check"), account_id, provider_error="AADSTS50057"
    )
    assert (cut.sessions_ended, cut.application_grants_revoked, cut.upstream_token_sets_deleted) == (1, 2, 1)
    assert_cut_off(issuer, wiki, bound, offline, user_id, "upstream_refused")
    with issuer.rt.db.session() as session:
        assert session.get(LinkedAccount, account_id).needs_reauth
        assert session.get(User, user_id).disabled_at is None  # the person may sign in again, if the provider lets them
    event = audit(issuer, "upstream.account_ended")[-1]
    assert event.details["provider_error"] == "AADSTS50057" and event.details["via"] == "upstream_check"
