"""Pull (hub.upstream.checks): an account used after `upstream_check_seconds` is confirmed with
its provider first. Refused for good cuts off what it admitted, within the refresh that found it;
a transient failure is tolerated for the grace period, then refused; a check is done once."""

from __future__ import annotations

from datetime import timedelta

import requests
from sqlalchemy import select

from hub.core import metrics
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, BackchannelLogout, LinkedAccount, TokenSet, WebSession


def post_token(issuer, app, **data):
    return requests.post(f"{issuer.base}/oauth2/token", data=data, auth=(app.client_id, app.client_secret), timeout=5)


def userinfo(issuer, token) -> int:
    return requests.get(
        f"{issuer.base}/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    ).status_code


def age(issuer, seconds: float) -> None:
    """Make every account's last confirmation (sign-in, check) `seconds` older."""
    moved = timedelta(seconds=seconds)
    with write_transaction(issuer.rt.db) as session:
        for account in session.scalars(select(LinkedAccount)):
            for name in ("linked_at", "last_sign_in_at", "upstream_checked_at", "upstream_confirmed_at"):
                if getattr(account, name) is not None:
                    setattr(account, name, getattr(account, name) - moved)


def refresh(issuer, wiki, token):
    return post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])


def events(issuer, type_):
    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def signed_in(issuer, scope="openid offline_access"):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True, backchannel_logout_uri="http://127.0.0.1:9/logout")
    _, token, _ = issuer.sign_in_through(wiki, scope=scope)
    return wiki, token


def test_not_due_asks_nobody(issuer, idp):
    wiki, token = signed_in(issuer)
    calls = idp.token_calls
    assert refresh(issuer, wiki, token).status_code == 200
    assert idp.token_calls == calls


def test_due_and_confirmed_refreshes_once_then_trusts_for_the_interval(issuer, idp):
    wiki, token = signed_in(issuer)
    age(issuer, 301)
    calls = idp.token_calls
    first = refresh(issuer, wiki, token)
    assert first.status_code == 200, first.text
    assert refresh(issuer, wiki, first.json()).status_code == 200
    assert idp.token_calls == calls + 1
    with issuer.rt.db.session() as session:
        account = session.scalars(select(LinkedAccount)).one()
        assert account.upstream_outcome == "confirmed" and account.upstream_confirmed_at is not None


def test_refused_for_good_cuts_off_within_the_refresh_that_found_it(issuer, idp):
    wiki, token = signed_in(issuer)
    _, bound, _ = issuer.sign_in_through(wiki)
    idp.refresh_tokens.clear()  # the person is disabled upstream: every refresh is invalid_grant
    age(issuer, 301)
    before = metrics.value("hub_upstream_checks_total", provider="fake", outcome="refused")
    refused = refresh(issuer, wiki, token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert refresh(issuer, wiki, bound).json()["error"] == "invalid_grant"
    assert userinfo(issuer, token) == 401 and userinfo(issuer, bound) == 401
    assert issuer.get("/account").status_code == 302  # the hub session is over
    with issuer.rt.db.session() as session:
        assert session.scalars(select(WebSession)).all() == []
        assert [row.reason for row in session.scalars(select(BackchannelLogout))] == ["upstream_refused"]
        account = session.scalars(select(LinkedAccount)).one()
        assert (account.upstream_outcome, account.needs_reauth) == ("refused", True)
    assert metrics.value("hub_upstream_checks_total", provider="fake", outcome="refused") == before + 1
    ended = events(issuer, "upstream.account_ended")[-1]
    assert ended.details["via"] == "upstream_check" and ended.details["application_grants_revoked"] == 2


def test_a_transient_outage_is_tolerated_for_the_grace_period_then_refused(issuer, idp):
    wiki, token = signed_in(issuer)
    idp.token_status = 503
    age(issuer, 301)  # due; last confirmed 301 s ago, within 300 + 900
    kept = refresh(issuer, wiki, token)
    assert kept.status_code == 200, kept.text
    with issuer.rt.db.session() as session:
        assert session.scalars(select(LinkedAccount.upstream_outcome)).one() == "transient"
    age(issuer, 900)  # last confirmed 1201 s ago: past the grace period, and due again
    refused = refresh(issuer, wiki, kept.json())
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    again = refresh(issuer, wiki, kept.json())  # checked just now, so not due: still refused
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    with issuer.rt.db.session() as session:
        assert session.scalars(select(LinkedAccount.needs_reauth)).one() is False  # not cut off: an outage
    idp.token_status = 200
    age(issuer, 301)
    assert refresh(issuer, wiki, kept.json()).status_code == 200  # the provider is back


def test_a_hub_session_past_the_grace_period_is_refused_on_every_use_not_only_the_checking_one(issuer, idp):
    signed_in(issuer)
    idp.token_status = 503
    age(issuer, 301 + 900)  # due, and last confirmed past the grace period
    assert issuer.get("/account").status_code == 302  # the check: transient, past grace
    calls = idp.token_calls
    assert issuer.get("/account").status_code == 302  # not due any more, still past grace
    assert idp.token_calls == calls  # refused on the stored outcome, nobody asked
    idp.token_status = 200
    age(issuer, 301)
    assert issuer.get("/account").status_code == 200  # the provider is back: confirmed, not cut off


def test_a_hub_session_used_after_the_interval_is_checked_and_ended_on_refusal(issuer, idp):
    signed_in(issuer)
    assert issuer.get("/account").status_code == 200
    idp.refresh_tokens.clear()
    age(issuer, 301)
    assert issuer.get("/account").status_code == 302
    with issuer.rt.db.session() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_a_provider_that_cannot_check_says_so_and_the_person_keeps_working(issuer, idp):
    from hub.core.identity import Tokens

    wiki, token = signed_in(issuer)
    rt = issuer.rt
    with write_transaction(rt.db) as session:
        account_id = session.scalars(select(LinkedAccount.id)).one()
        rt.vault.store(session, account_id, Tokens(access_token="no-refresh-here", refresh_token=None), ["openid"])
    age(issuer, 301)
    before = metrics.value("hub_upstream_checks_total", provider="fake", outcome="unsupported")
    answer = refresh(issuer, wiki, token)
    assert answer.status_code == 200, answer.text
    with rt.db.session() as session:
        assert session.get(LinkedAccount, account_id).upstream_outcome == "unsupported"
    assert metrics.value("hub_upstream_checks_total", provider="fake", outcome="unsupported") == before + 1
    page = issuer.get("/admin/users/1")
    assert page.status_code == 200 and "provider cannot check" in page.get_data(as_text=True)  # the console says so


def test_the_checks_rotated_upstream_token_survives_a_grant_that_fails_after_it(issuer, idp, monkeypatch):
    """The check commits on its own before the grant's transaction: an upstream refresh token
    the provider rotated is never lost with a rolled-back grant (it could not be spent again)."""
    from hub.issuer import tokens

    wiki, token = signed_in(issuer)
    age(issuer, 301)
    with issuer.rt.db.session() as session:
        version = session.scalars(select(TokenSet.version)).one()

    def broken(*args, **kwargs):
        raise RuntimeError("the grant fails after the check")

    monkeypatch.setattr(tokens, "rotate_refresh", broken)
    assert refresh(issuer, wiki, token).status_code == 500
    monkeypatch.undo()
    with issuer.rt.db.session() as session:
        assert session.scalars(select(TokenSet.version)).one() == version + 1  # the new upstream token is stored
        assert session.scalars(select(LinkedAccount.upstream_outcome)).one() == "confirmed"
    calls = idp.token_calls
    assert refresh(issuer, wiki, token).status_code == 200  # not due any more: no second upstream call
    assert idp.token_calls == calls
