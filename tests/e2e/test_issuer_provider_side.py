"""The provider side under attack: upstream tokens need the person's consent, logout by someone
else's hint asks first, odd input at authorize and end-session gets a 4xx, never a 500, and a
server error at authorize goes back to the application as the RFC's `server_error`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.models import AuditEvent, Grant, WebSession
from tests.issuer_kit import REDIRECT


def audit(issuer, type_: str) -> list[AuditEvent]:
    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type_).order_by(AuditEvent.seq)))


def hub_sessions(issuer) -> int:
    with issuer.rt.db.session() as session:
        return len(list(session.scalars(select(WebSession))))


def granted_scopes(issuer) -> list[str]:
    with issuer.rt.db.session() as session:
        return [grant.scopes for grant in session.scalars(select(Grant))]


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
