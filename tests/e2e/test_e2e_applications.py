"""Applications signing in through the hub, end to end over real sockets: an example application
(Authlib's Flask client) -> the hub's /oauth2/authorize -> the hub's sign-in page -> the Entra
emulator -> the hub -> the application; a second application gets in without another trip to
the emulator (SSO); signing out at the hub, or RP-initiated logout from one application, ends
both applications' sessions by back-channel logout. The browser is requests following
redirects; the emulator signs the chosen person in without a page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from hub.core.db import write_transaction
from hub.core.models import AuditEvent, BackchannelLogout, User, utcnow
from hub.core.sessions import end_sessions
from hub.runtime import Runtime
from tests.downstream import Stack, eventually, running_stack

ALICE = "alice@contoso.example"


@pytest.fixture
def stack(emulator, live_hub) -> Iterator[Stack]:
    with running_stack(emulator, live_hub) as running:
        running.emulator.auto_sign_in = ALICE
        running.add_app("Notes", scope="openid profile email provider_tokens")
        running.add_app("Wiki")
        yield running


def form_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def sign_in_to(stack: Stack, app_name: str, browser: requests.Session) -> requests.Response:
    """Open the application's sign-in, press the Microsoft button if the hub asks, and allow
    what the application asks for if the hub asks that (provider_tokens, even first-party)."""
    app = stack.apps[app_name]
    answer = browser.get(f"{app.base_url}/login", timeout=20)
    if answer.url.startswith(stack.hub_url) and "Sign in to" in answer.text:
        fields = form_fields(answer.text)
        answer = browser.post(f"{stack.hub_url}/auth/entra/start", data=fields, timeout=20)
    return allow_if_asked(stack, answer, browser)


def allow_if_asked(stack: Stack, answer: requests.Response, browser: requests.Session) -> requests.Response:
    if answer.url.startswith(stack.hub_url) and 'name="decision"' in answer.text:
        fields = {**form_fields(answer.text), "decision": "allow"}
        answer = browser.post(f"{stack.hub_url}/oauth2/authorize", data=fields, timeout=20)
    return answer


def whoami(stack: Stack, app_name: str, browser: requests.Session) -> requests.Response:
    return browser.get(f"{stack.apps[app_name].base_url}/whoami", timeout=10)


def test_an_application_signs_in_through_the_hub_and_the_emulator(stack):
    browser = requests.Session()
    first = browser.get(f"{stack.apps['Notes'].base_url}/login", timeout=20)
    assert first.url.startswith(stack.hub_url) and "Sign in to Notes" in first.text  # the hub says who asked
    asked = browser.post(f"{stack.hub_url}/auth/entra/start", data=form_fields(first.text), timeout=20)
    assert "call the services you signed in with" in asked.text  # provider_tokens: the person decides
    landed = allow_if_asked(stack, asked, browser)
    assert landed.url == f"{stack.apps['Notes'].base_url}/" and "Signed in as" in landed.text
    me = whoami(stack, "Notes", browser).json()
    with stack.rt.db.session() as session:
        alice = session.scalars(select(User)).one()
    assert me["sub"] == alice.public_subject and me["claims"]["name"] == "Alice Adams"
    assert me["claims"]["idp"] == "entra" and me["sid"]
    assert me["claims"]["email"] == ALICE
    assert me["claims"]["email_verified"] is True  # Entra's xms_edov: Contoso owns contoso.example


def test_a_second_application_gets_in_without_signing_in_again(stack):
    browser = requests.Session()
    sign_in_to(stack, "Notes", browser)
    upstream_sign_ins = stack.emulator.requests["token"]
    landed = browser.get(f"{stack.apps['Wiki'].base_url}/login", timeout=20)
    assert landed.url == f"{stack.apps['Wiki'].base_url}/" and "Signed in as" in landed.text
    assert stack.emulator.requests["token"] == upstream_sign_ins  # no trip to the emulator
    notes, wiki = whoami(stack, "Notes", browser).json(), whoami(stack, "Wiki", browser).json()
    assert notes["sub"] == wiki["sub"]  # one person
    assert notes["sid"] != wiki["sid"]  # one hub session, but each application sees its own sid


def test_signing_out_at_the_hub_ends_both_applications_sessions(stack):
    browser = requests.Session()
    sign_in_to(stack, "Notes", browser)
    browser.get(f"{stack.apps['Wiki'].base_url}/login", timeout=20)
    assert whoami(stack, "Notes", browser).status_code == whoami(stack, "Wiki", browser).status_code == 200
    account = browser.get(f"{stack.hub_url}/account", timeout=10)
    out = browser.post(f"{stack.hub_url}/logout", data={"csrf_token": form_fields(account.text)["csrf_token"]}, timeout=20)
    assert out.status_code == 200  # the person's own logout did not wait for the applications
    assert eventually(lambda: stack.apps["Notes"].sessions() == 0 and stack.apps["Wiki"].sessions() == 0)
    assert whoami(stack, "Notes", browser).status_code == whoami(stack, "Wiki", browser).status_code == 401

    def states() -> list[str]:  # recorded after each POST has been answered
        with stack.rt.db.session() as session:
            return list(session.scalars(select(BackchannelLogout.state)))

    assert eventually(lambda: states() == ["delivered", "delivered"]), states()
    with stack.rt.db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.type == "logout.backchannel")).all()
    assert sorted(e.details["application"] for e in events if e.outcome == "success") == ["Notes", "Wiki"]


def test_rp_initiated_logout_from_one_application_reaches_the_other(stack):
    browser = requests.Session()
    sign_in_to(stack, "Notes", browser)
    browser.get(f"{stack.apps['Wiki'].base_url}/login", timeout=20)
    back = browser.post(f"{stack.apps['Notes'].base_url}/logout", timeout=20)
    assert back.url.startswith(f"{stack.apps['Notes'].base_url}/?state=")  # the registered post-logout URI
    assert "You are not signed in." in back.text
    assert eventually(lambda: stack.apps["Wiki"].sessions() == 0)
    assert whoami(stack, "Wiki", browser).status_code == 401
    again = browser.get(f"{stack.apps['Wiki'].base_url}/login", timeout=20)  # the hub session is gone too
    assert again.url.startswith(stack.hub_url) and "Sign in to Wiki" in again.text


def test_a_session_ended_by_another_process_is_delivered_by_the_serving_one(stack):
    """The CLI (another process) disables a person: it only queues; the hub's delivery thread
    finds the rows by polling and sends them."""
    browser = requests.Session()
    sign_in_to(stack, "Notes", browser)
    elsewhere = Runtime.load(stack.rt.settings, stack.rt.plugins)  # no app, no delivery thread
    try:
        with write_transaction(elsewhere.db) as session:
            user = session.scalars(select(User)).one()
            user.disabled_at = utcnow()
            assert len(end_sessions(session, user_id=user.id, reason="user_disabled")) == 1
    finally:
        elsewhere.close()
    assert eventually(lambda: stack.apps["Notes"].sessions() == 0)


def test_an_application_gets_the_persons_microsoft_token_through_the_hub(stack):
    """Item 11 end to end: the example app calls /api/v1/me/provider-token with its hub access
    token and receives the person's Entra access token (the app shows only that it got one)."""
    browser = requests.Session()
    sign_in_to(stack, "Notes", browser)
    answer = browser.get(f"{stack.apps['Notes'].base_url}/provider-token?provider=entra", timeout=20).json()
    assert answer["status"] == 200, answer
    assert answer["answer"]["access_token_received"] is True and answer["answer"]["provider"] == "entra"
    assert answer["answer"]["expires_at"]
    wiki = stack.apps["Wiki"]  # granted no provider_tokens scope
    browser.get(f"{wiki.base_url}/login", timeout=20)
    refused = browser.get(f"{wiki.base_url}/provider-token?provider=entra", timeout=20).json()
    assert refused["status"] == 403 and refused["answer"]["error"]["code"] == "insufficient_scope"
