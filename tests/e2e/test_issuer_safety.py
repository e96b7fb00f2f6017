"""The issuer's negative cases: each refused request gets the RFC's error at the right place (the
registered redirect URI with state and iss, JSON, or a page), an audit event, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select, update

from hub.core.db import write_transaction
from hub.core.models import (
    AuditEvent,
    AuthorizationCode,
    RefreshToken,
    SsoSession,
    TokenFamily,
    User,
    WebSession,
    utcnow,
)
from hub.issuer import applications, sso, tokens
from tests.issuer_kit import REDIRECT


def audit(issuer, type_: str) -> list[AuditEvent]:
    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def post_token(issuer, app, **data):
    return requests.post(
        f"{issuer.base}/oauth2/token", data=data, auth=(app.client_id, app.client_secret), timeout=5
    )


# --- authorize: where errors go -------------------------------------------------------------------


def test_wrong_redirect_uri_gets_a_page_never_a_redirect(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    oauth.redirect_uri = "https://evil.example/callback"
    url, _ = issuer.authorize_url(oauth)
    response = issuer.get(url)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "evil.example" not in response.get_data(as_text=True)
    assert audit(issuer, "issuer.authorize")[-1].outcome == "failure"


def test_unknown_or_disabled_application_gets_a_page(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    with write_transaction(issuer.rt.db) as session:
        applications.disable(session, wiki.client_id)
    url, _ = issuer.authorize_url(issuer.oauth(wiki))
    response = issuer.get(url)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_client" in response.get_data(as_text=True)


def test_errors_go_to_the_registered_redirect_with_state_and_iss(issuer):
    wiki = issuer.register("Wiki")
    url, kept = issuer.authorize_url(issuer.oauth(wiki), prompt="none")
    response = issuer.get(url)
    assert response.status_code == 302
    arrived = issuer.arrived(response.headers["Location"])
    assert arrived.location.startswith(REDIRECT)
    assert arrived.params == {"error": "login_required", "state": kept["state"], "iss": issuer.base}


def test_unsupported_response_type_is_redirected_with_an_error(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    url, kept = issuer.authorize_url(oauth, response_type="token")
    arrived = issuer.arrived(issuer.get(url).headers["Location"])
    assert arrived.params["error"] == "unsupported_response_type"
    assert arrived.params["iss"] == issuer.base


# --- PKCE ----------------------------------------------------------------------------------------


def test_public_app_without_pkce_is_refused(issuer):
    issuer.sign_in()
    cli = issuer.register("CLI", redirect_uri="http://127.0.0.1/cb", public=True, first_party=True)
    url, _ = issuer.authorize_url(issuer.oauth(cli), pkce=False)
    arrived = issuer.arrived(issuer.get(url).headers["Location"])
    assert arrived.params["error"] == "invalid_request" and "PKCE" in arrived.params["error_description"]


def test_plain_pkce_is_refused(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    url, _ = issuer.authorize_url(oauth, pkce=False, code_challenge="a" * 43, code_challenge_method="plain")
    arrived = issuer.arrived(issuer.get(url).headers["Location"])
    assert arrived.params["error"] == "invalid_request"
    with issuer.rt.db.session() as session:  # a refused authorization writes nothing but its audit event
        assert session.scalar(select(SsoSession)) is None and session.scalar(select(AuthorizationCode)) is None


def test_missing_or_wrong_code_verifier_is_refused(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)
    missing = post_token(issuer, wiki, grant_type="authorization_code", code=authorized.code, redirect_uri=REDIRECT)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    authorized = issuer.authorize(oauth)
    wrong = post_token(
        issuer, wiki, grant_type="authorization_code", code=authorized.code, redirect_uri=REDIRECT,
        code_verifier="x" * 50,
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    with issuer.rt.db.session() as session:
        assert session.scalar(select(TokenFamily)) is None  # nothing issued


# --- codes ----------------------------------------------------------------------------------------


def test_code_replay_is_refused_and_revokes_what_the_code_issued(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)
    token = issuer.redeem(oauth, authorized)
    replay = post_token(
        issuer, wiki, grant_type="authorization_code", code=authorized.code, redirect_uri=REDIRECT,
        code_verifier=authorized.code_verifier,
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refresh = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"
    info = requests.get(
        f"{issuer.base}/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert info.status_code == 401
    assert audit(issuer, "issuer.code_replay")


def test_expired_code_is_refused(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = post_token(
        issuer, wiki, grant_type="authorization_code", code=authorized.code, redirect_uri=REDIRECT,
        code_verifier=authorized.code_verifier,
    )
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_code_at_another_redirect_uri_or_by_another_app_is_refused(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    other = issuer.register("Other", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)
    stolen = post_token(
        issuer, other, grant_type="authorization_code", code=authorized.code, redirect_uri=REDIRECT,
        code_verifier=authorized.code_verifier,
    )
    assert stolen.json()["error"] == "invalid_grant"
    moved = post_token(
        issuer, wiki, grant_type="authorization_code", code=authorized.code,
        redirect_uri="https://app.example/other", code_verifier=authorized.code_verifier,
    )
    assert moved.json()["error"] == "invalid_grant"


def test_codes_and_refresh_tokens_are_stored_only_as_hashes(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)
    token = issuer.redeem(oauth, authorized)
    with issuer.rt.db.session() as session:
        assert session.get(RefreshToken, tokens.token_hash(token["refresh_token"])) is not None
        assert session.get(RefreshToken, token["refresh_token"]) is None
        assert session.get(AuthorizationCode, tokens.token_hash(authorized.code)) is not None
        assert session.get(AuthorizationCode, authorized.code) is None


# --- client authentication -------------------------------------------------------------------------


def test_wrong_client_secret(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)
    wrong = requests.post(
        f"{issuer.base}/oauth2/token",
        data={"grant_type": "authorization_code", "code": authorized.code, "redirect_uri": REDIRECT,
              "code_verifier": authorized.code_verifier},
        auth=(wiki.client_id, "not-the-secret"), timeout=5,
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert audit(issuer, "issuer.token")[-1].outcome == "failure"
    # the code was not spent by the refused attempt
    assert issuer.redeem(oauth, authorized)["access_token"]


def test_disabled_app_gets_no_tokens_and_its_refresh_tokens_die(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki)
    with write_transaction(issuer.rt.db) as session:
        applications.disable(session, wiki.client_id)
    refused = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    with write_transaction(issuer.rt.db) as session:
        applications.enable(session, wiki.client_id)
    still = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert still.json()["error"] == "invalid_grant"


def test_disabled_user_gets_no_tokens(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki)
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(User).values(disabled_at=utcnow()))
    refused = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refused.json()["error"] == "invalid_grant"
    info = requests.get(
        f"{issuer.base}/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert info.status_code == 401
    url, _ = issuer.authorize_url(issuer.oauth(wiki), prompt="none")
    assert issuer.arrived(issuer.get(url).headers["Location"]).params["error"] == "login_required"


def test_a_token_for_another_application_is_refused(issuer):
    from hub.issuer.access_tokens import validate_access_token

    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    other = issuer.register("Other", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki)
    introspected = requests.post(
        f"{issuer.base}/oauth2/introspect", data={"token": token["access_token"]},
        auth=(other.client_id, other.client_secret), timeout=5,
    ).json()
    assert introspected == {"active": False}
    stolen = post_token(issuer, other, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert stolen.json()["error"] == "invalid_grant"
    config = issuer.app.extensions["hub.issuer"].config
    with issuer.rt.db.session() as session:
        assert validate_access_token(config, session, token["access_token"], audience=other.client_id) is None
        assert validate_access_token(config, session, token["access_token"], audience=wiki.client_id) is not None
    assert audit(issuer, "issuer.introspect")[-1].outcome == "failure"


# --- consent ------------------------------------------------------------------------------------


def test_consent_is_asked_once_then_remembered(issuer):
    issuer.sign_in()
    grafana = issuer.register("Grafana")
    oauth = issuer.oauth(grafana, scope="openid email")
    url, kept = issuer.authorize_url(oauth)
    page = issuer.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Allow Grafana" in html and "see your email address" in html
    assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    allowed = issuer.consent(page)
    arrived = issuer.arrived(allowed.headers["Location"], **kept)
    assert arrived.code and arrived.params["state"] == kept["state"]
    again = issuer.authorize(oauth)  # remembered: straight back with a code
    assert again.code
    wider = issuer.oauth(grafana, scope="openid email roles")
    url, _ = issuer.authorize_url(wider)
    assert issuer.get(url).status_code == 200  # a new scope asks again
    forced, _ = issuer.authorize_url(oauth, prompt="consent")
    assert issuer.get(forced).status_code == 200
    assert [event.outcome for event in audit(issuer, "issuer.consent")] == ["success"]


def test_denied_consent_returns_access_denied(issuer):
    issuer.sign_in()
    grafana = issuer.register("Grafana")
    oauth = issuer.oauth(grafana)
    url, kept = issuer.authorize_url(oauth)
    denied = issuer.consent(issuer.get(url), decision="deny")
    arrived = issuer.arrived(denied.headers["Location"])
    assert arrived.params["error"] == "access_denied" and arrived.params["iss"] == issuer.base
    assert arrived.params["state"] == kept["state"]


def test_consent_without_csrf_token_is_refused(issuer):
    issuer.sign_in()
    grafana = issuer.register("Grafana")
    url, _ = issuer.authorize_url(issuer.oauth(grafana))
    query = dict(issuer.arrived(url).params)
    forged = issuer.browser.post("/oauth2/authorize", data={**query, "decision": "allow"})
    assert forged.status_code == 400 and "Location" not in forged.headers


def test_prompt_none_without_consent_is_consent_required(issuer):
    issuer.sign_in()
    grafana = issuer.register("Grafana")
    url, _ = issuer.authorize_url(issuer.oauth(grafana), prompt="none")
    assert issuer.arrived(issuer.get(url).headers["Location"]).params["error"] == "consent_required"


def test_first_party_apps_skip_consent(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    assert issuer.authorize(issuer.oauth(wiki)).code


# --- sign-in, SSO, prompt=login, max_age ---------------------------------------------------------


def test_without_a_session_the_sign_in_page_names_the_application(issuer):
    wiki = issuer.register("Wiki", first_party=True)
    url, _ = issuer.authorize_url(issuer.oauth(wiki))
    page = issuer.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Sign in to Wiki" in html and "/auth/fake/start" in html and "/auth/fake2/start" in html


def test_sign_in_resumes_the_authorization_and_sso_serves_a_second_app(issuer):
    wiki = issuer.register("Wiki", first_party=True)
    grafana = issuer.register("Grafana", redirect_uri="https://grafana.example/cb", first_party=True)
    oauth = issuer.oauth(wiki)
    url, kept = issuer.authorize_url(oauth, idp_hint="fake")
    to_provider = issuer.get(url)
    assert to_provider.status_code == 302
    assert urlsplit(to_provider.headers["Location"]).netloc == urlsplit(issuer.idp.base).netloc
    back = issuer.get(issuer.idp.authorize(to_provider.headers["Location"], "alice"))
    assert back.status_code == 302 and back.headers["Location"].startswith("/oauth2/authorize?")
    arrived = issuer.arrived(issuer.get(back.headers["Location"]).headers["Location"], **kept)
    assert arrived.code and arrived.location.startswith(REDIRECT)
    calls = issuer.idp.token_calls
    second = issuer.authorize(issuer.oauth(grafana))
    assert second.code and issuer.idp.token_calls == calls  # no new trip upstream
    _, first_claims = issuer.decode(issuer.redeem(oauth, arrived)["id_token"])
    _, second_claims = issuer.decode(issuer.redeem(issuer.oauth(grafana), second)["id_token"])
    assert first_claims["sub"] == second_claims["sub"]
    with issuer.rt.db.session() as session:
        [sid] = session.scalars(select(SsoSession.sid)).all()  # one hub session served both
    key = issuer.rt.keys.secret_key  # each application sees its own sid of it
    assert first_claims["sid"] == sso.application_sid(key, sid, wiki.client_id)
    assert second_claims["sid"] == sso.application_sid(key, sid, grafana.client_id) != first_claims["sid"]


def test_login_hint_goes_to_the_provider(issuer):
    wiki = issuer.register("Wiki", first_party=True)
    url, _ = issuer.authorize_url(issuer.oauth(wiki), idp_hint="fake", login_hint="alice@example.test")
    to_provider = issuer.get(url).headers["Location"]
    assert issuer.arrived(to_provider).params["login_hint"] == "alice@example.test"
    url, _ = issuer.authorize_url(issuer.oauth(wiki), login_hint="alice@example.test")
    page = issuer.get(url).get_data(as_text=True)
    assert 'name="login_hint" value="alice@example.test"' in page


def test_unknown_upstream_hint_shows_the_sign_in_page(issuer):
    wiki = issuer.register("Wiki", first_party=True)
    url, _ = issuer.authorize_url(issuer.oauth(wiki), kc_idp_hint="nosuch")
    assert issuer.get(url).status_code == 200


def test_prompt_login_forces_a_fresh_upstream_sign_in_once(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    url, kept = issuer.authorize_url(oauth, prompt="login", idp_hint="fake")
    to_provider = issuer.get(url)
    assert urlsplit(to_provider.headers["Location"]).netloc == urlsplit(issuer.idp.base).netloc
    back = issuer.get(issuer.idp.authorize(to_provider.headers["Location"], "alice"))
    arrived = issuer.arrived(issuer.get(back.headers["Location"]).headers["Location"], **kept)
    assert arrived.code  # the fresh sign-in satisfied prompt=login: no loop


def test_max_age_forces_a_new_sign_in_when_the_session_is_older(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(WebSession).values(created_at=utcnow() - timedelta(hours=1)))
    url, _ = issuer.authorize_url(issuer.oauth(wiki), max_age="60", prompt="none")
    assert issuer.arrived(issuer.get(url).headers["Location"]).params["error"] == "login_required"
    url, _ = issuer.authorize_url(issuer.oauth(wiki), max_age="7200")
    assert issuer.get(url).status_code == 302
    url, kept = issuer.authorize_url(issuer.oauth(wiki), max_age="0", idp_hint="fake")
    to_provider = issuer.get(url)
    back = issuer.get(issuer.idp.authorize(to_provider.headers["Location"], "alice"))
    assert issuer.arrived(issuer.get(back.headers["Location"]).headers["Location"]).code  # no loop
    url, _ = issuer.authorize_url(issuer.oauth(wiki), max_age="soon")
    assert issuer.arrived(issuer.get(url).headers["Location"]).params["error"] == "invalid_request"


# --- end-session ----------------------------------------------------------------------------------


def test_end_session_with_id_token_hint_signs_out_and_redirects_exactly(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True, post_logout_redirect_uris=["https://app.example/bye"])
    _, token, _ = issuer.sign_in_through(wiki)
    bad = issuer.browser.get(
        "/oauth2/logout",
        query_string={"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert bad.status_code == 200 and "Location" not in bad.headers  # signed out, not redirected
    issuer.sign_in()
    _, token, _ = issuer.sign_in_through(wiki)
    done = issuer.browser.get(
        "/oauth2/logout",
        query_string={"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://app.example/bye",
                      "state": "s1"},
    )
    assert done.status_code == 302 and done.headers["Location"] == "https://app.example/bye?state=s1"
    with issuer.rt.db.session() as session:
        assert session.scalar(select(WebSession)) is None
    dead = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert dead.json()["error"] == "invalid_grant"  # session-bound refresh tokens end with the session


def test_offline_access_outlives_the_hub_session(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki, scope="openid offline_access")
    issuer.browser.get("/oauth2/logout", query_string={"id_token_hint": token["id_token"]})
    alive = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert alive.status_code == 200, alive.text


def test_end_session_without_hint_asks_for_confirmation(issuer):
    issuer.sign_in()
    page = issuer.browser.get("/oauth2/logout")
    assert page.status_code == 200 and "Sign out of the hub?" in page.get_data(as_text=True)
    with issuer.rt.db.session() as session:
        assert session.scalar(select(WebSession)) is not None
    forged = issuer.browser.post("/oauth2/logout", data={"confirm": "yes"})
    assert forged.status_code == 400
    with issuer.rt.db.session() as session:
        assert session.scalar(select(WebSession)) is not None
    html = page.get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    confirmed = issuer.browser.post("/oauth2/logout", data={"confirm": "yes", "csrf_token": token})
    assert confirmed.status_code == 200 and "signed out" in confirmed.get_data(as_text=True)
    with issuer.rt.db.session() as session:
        assert session.scalar(select(WebSession)) is None


def test_end_session_with_a_forged_hint_is_refused(issuer):
    issuer.sign_in()
    refused = issuer.browser.get("/oauth2/logout", query_string={"id_token_hint": "e30.e30.x"})
    assert refused.status_code == 400
    with issuer.rt.db.session() as session:
        assert session.scalar(select(WebSession)) is not None


# --- revocation ------------------------------------------------------------------------------------


def test_revocation_ends_the_family(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki)
    revoked = requests.post(
        f"{issuer.base}/oauth2/revoke", data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(wiki.client_id, wiki.client_secret), timeout=5,
    )
    assert revoked.status_code == 200
    assert post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"]).json()["error"] == "invalid_grant"
    unknown = requests.post(
        f"{issuer.base}/oauth2/revoke", data={"token": "nonsense"},
        auth=(wiki.client_id, wiki.client_secret), timeout=5,
    )
    assert unknown.status_code == 200  # RFC 7009 §2.2
    assert audit(issuer, "issuer.revoke")


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/oauth2/token", {}),
        ("/oauth2/token", {"grant_type": "password", "username": "a", "password": "b"}),
        ("/oauth2/token", {"grant_type": "authorization_code", "code": "x" * 5000}),
        ("/oauth2/token", {"grant_type": "refresh_token"}),
        ("/oauth2/token", {"grant_type": "refresh_token", "refresh_token": "\x00\xff"}),
        ("/oauth2/revoke", {}),
        ("/oauth2/revoke", {"token": "x", "token_type_hint": "bogus"}),
        ("/oauth2/introspect", {"token": "x"}),
        ("/oauth2/userinfo", {"access_token": "x"}),
    ],
)
def test_bad_input_on_back_channel_endpoints_is_an_rfc_error(issuer, path, data):
    wiki = issuer.register("Wiki", first_party=True)
    response = requests.post(f"{issuer.base}{path}", data=data, auth=(wiki.client_id, wiki.client_secret), timeout=5)
    anonymous = requests.post(f"{issuer.base}{path}", data=data, timeout=5)
    for answer in (response, anonymous):
        assert 400 <= answer.status_code < 500 or answer.json() in ({}, {"active": False}), answer.text
        if answer.status_code != 200:
            assert answer.json()["error"], answer.text


@pytest.mark.parametrize(
    "query",
    [
        "",
        "client_id=",
        "client_id=nosuch&response_type=code",
        "response_type=code&client_id=%00",
        "client_id=" + "x" * 3000,
    ],
)
def test_bad_authorize_requests_get_a_page(issuer, query):
    issuer.register("Wiki", first_party=True)
    response = issuer.browser.get(f"/oauth2/authorize?{query}")
    assert response.status_code == 400 and "Location" not in response.headers


def test_purge_forgets_only_what_has_ended(issuer):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    oauth, token, authorized = issuer.sign_in_through(wiki)
    refreshed = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=token["refresh_token"])
    with write_transaction(issuer.rt.db) as session:
        assert tokens.purge_expired(session) == 0  # nothing has ended yet
        session.execute(update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.execute(
            update(RefreshToken).where(RefreshToken.used_at.is_not(None)).values(used_at=utcnow() - timedelta(days=2))
        )
        assert tokens.purge_expired(session) == 2  # the code and the rotated-out refresh token
    alive = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=refreshed["refresh_token"])
    assert alive.status_code == 200, alive.text


def test_disabling_a_user_revokes_offline_tokens_for_good(issuer):
    """An offline_access refresh token outlives the hub session; disabling the person must end
    it too, so enabling them again never revives an application's access."""
    from hub.actions import users
    from hub.actions.audited import Actor
    from hub.core.audit import RequestContext

    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki, scope="openid offline_access")
    with issuer.rt.db.session() as session:
        user_id = session.scalar(select(User.id))
        admin = User(display_name="Admin", is_admin=True)
        session.add(admin)
        session.commit()
        admin_id = admin.id
    actor = Actor(admin_id, "console", RequestContext())
    users.disable(issuer.rt.db, issuer.rt.audit, None, actor, user_id)
    users.enable(issuer.rt.db, issuer.rt.audit, actor, user_id)
    refused = post_token(issuer, wiki, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refused.json()["error"] == "invalid_grant"
    with issuer.rt.db.session() as session:
        assert session.scalar(select(TokenFamily.revoked_reason)) == "user_disabled"
    assert audit(issuer, "admin.disable_user")[-1].details["application_grants_revoked"] == 1
