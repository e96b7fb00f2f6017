"""The provider side under attack: upstream tokens need the person's consent, logout by someone
else's hint asks first, odd input at authorize and end-session gets a 4xx, never a 500, and a
server error at authorize goes back to the application as the RFC's `server_error`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.models import AuditEvent, Grant, PendingSignin, WebSession
from tests.issuer_kit import REDIRECT, IssuerKit


def audit(issuer, type_: str) -> list[AuditEvent]:
    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def hub_sessions(issuer) -> int:
    with issuer.rt.db.session() as session:
        return len(list(session.scalars(select(WebSession))))


def granted_scopes(issuer) -> list[str]:
    with issuer.rt.db.session() as session:
        return [grant.scopes for grant in session.scalars(select(Grant))]


@pytest.mark.parametrize("name", ["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint",
                                  "ui_locales"])
@pytest.mark.parametrize("value", ['x"\\ caf\u00e9 a.b.c\u202e', "a\x01b\x00"])
def test_odd_characters_at_end_session_are_never_a_500(issuer, name, value):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True, post_logout_redirect_uris=["https://app.example/bye"])
    query = {"client_id": wiki.client_id, "post_logout_redirect_uri": "https://app.example/bye", name: value}
    for answer in (issuer.browser.get("/oauth2/logout", query_string=query),
                   issuer.browser.post("/oauth2/logout", data={**query, "confirm": "yes"})):
        assert answer.status_code in (200, 400), answer.get_data(as_text=True)[:300]
    assert hub_sessions(issuer) == 1


# --- upstream tokens need the person's own decision ------------------------------------------------


def test_a_first_party_application_asking_for_provider_tokens_gets_the_consent_page(issuer):
    issuer.sign_in()
    grafana = issuer.register("Grafana", first_party=True)
    issuer.sign_in_through(grafana, scope="openid profile")  # first-party: no page for these
    assert granted_scopes(issuer) == ["openid profile"]
    oauth = issuer.oauth(grafana, scope="openid provider_tokens")
    url, kept = issuer.authorize_url(oauth)
    page = issuer.get(url)
    assert page.status_code == 200, page.headers.get("Location")
    assert "call the services you signed in with" in page.get_data(as_text=True)
    assert "provider_tokens" not in granted_scopes(issuer)[0]
    silent, _ = issuer.authorize_url(oauth, prompt="none")
    assert issuer.arrived(issuer.get(silent).headers["Location"]).params["error"] == "consent_required"
    allowed = issuer.arrived(issuer.consent(page).headers["Location"], **kept)
    assert "provider_tokens" in issuer.redeem(oauth, allowed)["scope"].split()
    assert issuer.authorize(oauth).code  # remembered like any other consent
    [event] = audit(issuer, "issuer.consent")
    assert event.details["decision"] == "allow" and "provider_tokens" in event.details["scopes"]


def test_a_first_party_application_denied_provider_tokens_gets_access_denied(issuer):
    issuer.sign_in()
    grafana = issuer.register("Grafana", first_party=True)
    oauth = issuer.oauth(grafana, scope="openid provider_tokens")
    url, _ = issuer.authorize_url(oauth)
    denied = issuer.arrived(issuer.consent(issuer.get(url), decision="deny").headers["Location"])
    assert denied.params["error"] == "access_denied"
    assert granted_scopes(issuer) == []


# --- end-session: only the browser's own hint signs out without asking ---------------------------


def tokens_of(issuer, wiki, user: str, browser=None) -> dict:
    browser = browser or issuer.browser
    issuer.sign_in(user, browser=browser)
    oauth = issuer.oauth(wiki)
    return issuer.redeem(oauth, issuer.authorize(oauth, browser=browser))


def test_someone_elses_id_token_as_hint_asks_before_signing_out(issuer):
    wiki = issuer.register("Wiki", first_party=True, post_logout_redirect_uris=["https://app.example/bye"])
    mallory = tokens_of(issuer, wiki, "bob", browser=issuer.app.test_client())
    tokens_of(issuer, wiki, "alice")
    assert hub_sessions(issuer) == 2
    asked = issuer.browser.get("/oauth2/logout", query_string={
        "id_token_hint": mallory["id_token"], "post_logout_redirect_uri": "https://app.example/bye", "state": "s1"})
    assert asked.status_code == 200 and "Sign out of the hub?" in asked.get_data(as_text=True)
    assert hub_sessions(issuer) == 2
    forged = issuer.browser.post("/oauth2/logout", data={"id_token_hint": mallory["id_token"], "confirm": "yes"})
    assert forged.status_code == 400 and hub_sessions(issuer) == 2  # the confirmation needs its CSRF token
    html = asked.get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    confirmed = issuer.browser.post("/oauth2/logout", data={
        "id_token_hint": mallory["id_token"], "post_logout_redirect_uri": "https://app.example/bye", "state": "s1",
        "confirm": "yes", "csrf_token": csrf})
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "https://app.example/bye?state=s1"
    assert hub_sessions(issuer) == 1  # Alice's ended, by her decision; Bob's (the hint's) did not


def test_the_browsers_own_hint_signs_out_at_once(issuer):
    wiki = issuer.register("Wiki", first_party=True, post_logout_redirect_uris=["https://app.example/bye"])
    other = issuer.app.test_client()
    tokens_of(issuer, wiki, "bob", browser=other)
    own = tokens_of(issuer, wiki, "alice")
    done = issuer.browser.get("/oauth2/logout", query_string={
        "id_token_hint": own["id_token"], "post_logout_redirect_uri": "https://app.example/bye", "state": "s2"})
    assert done.status_code == 302 and done.headers["Location"] == "https://app.example/bye?state=s2"
    assert hub_sessions(issuer) == 1


def test_an_id_token_of_an_earlier_session_asks_first(issuer):
    wiki = issuer.register("Wiki", first_party=True)
    earlier = tokens_of(issuer, wiki, "alice")
    issuer.browser.post("/logout", data={"csrf_token": _csrf(issuer)})
    tokens_of(issuer, wiki, "alice")  # same person, new hub session: another sid
    asked = issuer.browser.get("/oauth2/logout", query_string={"id_token_hint": earlier["id_token"]})
    assert asked.status_code == 200 and "Sign out of the hub?" in asked.get_data(as_text=True)
    assert hub_sessions(issuer) == 1


@pytest.mark.parametrize("which", ["access_token"])
def test_a_token_that_is_not_an_id_token_is_refused_as_hint(issuer, which):
    wiki = issuer.register("Wiki", first_party=True, post_logout_redirect_uris=["https://app.example/bye"])
    own = tokens_of(issuer, wiki, "alice")
    refused = issuer.browser.get("/oauth2/logout", query_string={
        "id_token_hint": own[which], "post_logout_redirect_uri": "https://app.example/bye"})
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert hub_sessions(issuer) == 1
    assert audit(issuer, "issuer.end_session")[-1].outcome == "failure"


def _csrf(issuer) -> str:
    from tests.conftest import csrf_of

    return csrf_of(issuer.browser, "/account")


# --- every path that stores a pending sign-in spends the sign-in allowance -------------------------


@pytest.fixture
def limited_issuer(hub_config, plugins, idp, live_hub) -> IssuerKit:
    settings = {key: value for key, value in hub_config.items() if key not in ("base_url", "providers")}
    base_url, app = live_hub(lambda _base_url: hub_config["providers"], plugins, **settings,
                             ratelimit_signin="3 per minute")
    return IssuerKit(app, base_url, idp)


def pending_signins(kit) -> int:
    with kit.rt.db.session() as session:
        return len(list(session.scalars(select(PendingSignin))))


def test_cookieless_authorize_with_an_upstream_hint_spends_the_sign_in_allowance(limited_issuer):
    kit = limited_issuer
    wiki = kit.register("Wiki", first_party=True)
    url, _ = kit.authorize_url(kit.oauth(wiki), idp_hint="fake")
    answers = [kit.app.test_client().get(url.split(kit.base, 1)[1]) for _ in range(10)]  # no cookie each time
    assert [answer.status_code for answer in answers[:3]] == [302, 302, 302]
    assert {answer.status_code for answer in answers[3:]} == {429}
    assert "Too many requests" in answers[3].get_data(as_text=True) and int(answers[3].headers["Retry-After"]) >= 1
    assert pending_signins(kit) == 3  # refused requests stored nothing
    [event] = audit(kit, "rate_limit")  # one per burst
    assert event.details["rule"] == "signin"


def test_the_sign_in_buttons_and_authorize_share_one_allowance(limited_issuer):
    kit = limited_issuer
    from tests.conftest import csrf_of

    wiki = kit.register("Wiki", first_party=True)
    url, _ = kit.authorize_url(kit.oauth(wiki), idp_hint="fake")
    assert [kit.get(url).status_code for _ in range(2)] == [302, 302]
    token = csrf_of(kit.browser)
    assert kit.browser.post("/auth/fake/start", data={"csrf_token": token}).status_code == 303
    assert kit.browser.post("/auth/fake/start", data={"csrf_token": token}).status_code == 429
    assert kit.get(url).status_code == 429
    assert pending_signins(kit) == 3


def test_a_full_pending_sign_in_table_at_authorize_is_a_page_and_one_event(hub_config, plugins, idp, live_hub):
    settings = {key: value for key, value in hub_config.items() if key not in ("base_url", "providers")}
    base_url, app = live_hub(lambda _base_url: hub_config["providers"], plugins, **settings, pending_signins_max=2)
    kit = IssuerKit(app, base_url, idp)
    wiki = kit.register("Wiki", first_party=True)
    url, _ = kit.authorize_url(kit.oauth(wiki), idp_hint="fake")
    answers = [kit.app.test_client().get(url.split(kit.base, 1)[1]).status_code for _ in range(5)]
    assert answers == [302, 302, 503, 503, 503]
    assert pending_signins(kit) == 2
    assert [event.details["reason"] for event in audit(kit, "signin")] == ["signins_busy"]


# --- a server error at authorize goes back to the application -------------------------------------


def test_a_server_error_after_the_redirect_uri_is_validated_goes_back_as_server_error(issuer, monkeypatch):
    from hub.issuer import consent as grants

    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(grants, "remember", broken)
    url, kept = issuer.authorize_url(issuer.oauth(wiki))
    answer = issuer.get(url)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    arrived = issuer.arrived(answer.headers["Location"])
    assert arrived.location.startswith(REDIRECT)
    assert arrived.params == {"error": "server_error", "error_description": "The hub could not finish this request.",
                              "state": kept["state"], "iss": issuer.base}
    assert audit(issuer, "issuer.authorize")[-1].details["reason"] == "server_error"


def test_a_server_error_before_the_redirect_uri_is_validated_is_a_page(issuer, monkeypatch):
    from hub.issuer import applications

    wiki = issuer.register("Wiki", first_party=True)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(applications, "find_enabled", broken)
    url, _ = issuer.authorize_url(issuer.oauth(wiki))
    answer = issuer.get(url)
    assert answer.status_code == 500 and "Location" not in answer.headers
    assert answer.mimetype == "text/html"


# --- prompt values are space-delimited ------------------------------------------------------------


@pytest.mark.parametrize("prompt", [" none", "none ", "  none  "])
def test_prompt_none_with_stray_spaces_is_login_required(issuer, prompt):
    wiki = issuer.register("Wiki", first_party=True)
    url, kept = issuer.authorize_url(issuer.oauth(wiki), prompt=prompt)
    answer = issuer.get(url)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    arrived = issuer.arrived(answer.headers["Location"])
    assert arrived.params["error"] == "login_required" and arrived.params["state"] == kept["state"]


@pytest.mark.parametrize("prompt", ["none login", "consent none", "none select_account"])
def test_prompt_none_with_another_value_is_invalid_request(issuer, prompt):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    url, kept = issuer.authorize_url(issuer.oauth(wiki), prompt=prompt)
    arrived = issuer.arrived(issuer.get(url).headers["Location"])
    assert arrived.params["error"] == "invalid_request" and arrived.params["iss"] == issuer.base


# --- odd characters never answer 500 ----------------------------------------------------------------

ODD_REDIRECTS = [
    "https://app.example/callback\\",
    'https://app.example/call"back',
    "https://app.example/\\\\evil.example",
    "https://app.example/call back",
    "https://app.example/callback\x01",
    "https://app.example/callback\x7f",
    "https://app.example/caf\u00e9",
    "https://app.example/\u202ecallback",
    "https://app.example:99999/callback",
    "https://[::1/callback",
    "https://app.example/callback#frag",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("redirect_uri", ODD_REDIRECTS)
def test_odd_redirect_uri_at_authorize_is_a_page_never_a_500(issuer, redirect_uri):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    response = issuer.browser.get(
        "/oauth2/authorize",
        query_string={"client_id": wiki.client_id, "response_type": "code", "scope": "openid",
                      "redirect_uri": redirect_uri, "state": "s1", "code_challenge": "x" * 43,
                      "code_challenge_method": "S256"},
    )
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "Location" not in response.headers


@pytest.mark.parametrize("redirect_uri", ODD_REDIRECTS)
def test_odd_post_logout_redirect_uri_is_never_a_500(issuer, redirect_uri):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True, post_logout_redirect_uris=["https://app.example/bye"])
    _, token, _ = issuer.sign_in_through(wiki)
    response = issuer.browser.get(
        "/oauth2/logout",
        query_string={"id_token_hint": token["id_token"], "post_logout_redirect_uri": redirect_uri, "state": "s\"\\"},
    )
    assert response.status_code < 500 and "Location" not in response.headers


@pytest.mark.parametrize("name", ["response_type", "scope", "code_challenge_method", "prompt", "max_age",
                                  "response_mode", "client_id", "display", "acr_values", "claims"])
@pytest.mark.parametrize("value", ['x"\\', "caf\u00e9", "a\x01b"])
def test_odd_characters_in_other_parameters_are_never_a_500(issuer, name, value):
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    query = {"client_id": wiki.client_id, "response_type": "code", "scope": "openid", "redirect_uri": REDIRECT,
             "state": "s1", "code_challenge": "x" * 43, "code_challenge_method": "S256", name: value}
    response = issuer.browser.get("/oauth2/authorize", query_string=query)
    assert response.status_code in (302, 400), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(("name", "value"), [
    ("max_age", "\u00b2"),  # a digit to str.isdigit, not to int()
    ("max_age", "9" * 5000),  # past int()'s digit limit
    ("hub_login_after", "1.\u00e9"),  # a login mark with a non-ASCII MAC
    ("hub_login_after", "\u00b2.x"),
])
def test_numbers_that_are_not_ascii_digits_are_never_a_500(issuer, name, value):
    """`max_age` and the login mark are read before the request is validated, for a signed-in
    person: a value `str.isdigit` accepts but `int()` or `compare_digest` refuses must not be a 500."""
    issuer.sign_in()
    wiki = issuer.register("Wiki", first_party=True)
    query = {"client_id": wiki.client_id, "response_type": "code", "scope": "openid", "redirect_uri": REDIRECT,
             "state": "s1", "code_challenge": "x" * 43, "code_challenge_method": "S256", name: value}
    response = issuer.browser.get("/oauth2/authorize", query_string=query)
    assert response.status_code in (302, 400), response.get_data(as_text=True)[:300]
