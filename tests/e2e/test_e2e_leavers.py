"""A leaver, end to end over sockets (issue 19): a person signed in to an application through the
hub and the Entra emulator is disabled in the directory; the application's next refresh after
`upstream_check_seconds` is refused, its back-channel receiver ends its session, the hub session
is over, userinfo refuses the last access token, and a new sign-in is refused by the provider.
Pushed instead (the emulator's provisioning service, a SCIM client as Entra's), the same happens
at once, without waiting for the interval."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from hub.core.db import write_transaction
from hub.core.models import AuditEvent, LinkedAccount, ScimToken, User
from hub_demo.command import SCIM_TOKEN_NAME, connect_provisioning
from hub_entra.emulator.directory import CONTOSO_TENANT_ID
from tests.downstream import Stack, eventually, running_stack
from tests.e2e.test_e2e_applications import ALICE, sign_in_to


@pytest.fixture
def stack(emulator, live_hub) -> Iterator[Stack]:
    with running_stack(emulator, live_hub) as running:
        running.emulator.auto_sign_in = ALICE
        running.add_app("Wiki")
        yield running


def rewind_confirmations(stack, seconds: float) -> None:
    """As if `seconds` had passed since the account was last confirmed (no sleeping in tests)."""
    with write_transaction(stack.rt.db) as session:
        for account in session.scalars(select(LinkedAccount)):
            for name in ("linked_at", "last_sign_in_at", "upstream_checked_at", "upstream_confirmed_at"):
                if getattr(account, name) is not None:
                    setattr(account, name, getattr(account, name) - timedelta(seconds=seconds))


def test_a_person_disabled_upstream_loses_every_application_within_the_interval(stack):
    browser = requests.Session()
    wiki = stack.apps["Wiki"]
    assert "Signed in as" in sign_in_to(stack, "Wiki", browser).text
    [local] = list(wiki.store._sessions.values())
    assert local.refresh_token and local.access_token
    stack.emulator.set_disabled(ALICE)
    rewind_confirmations(stack, stack.rt.settings.upstream_check_seconds + 1)

    refreshed = requests.post(
        f"{stack.hub_url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": local.refresh_token},
        auth=(wiki.client_id, wiki.client_secret), timeout=20,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert eventually(lambda: wiki.sessions() == 0)  # the back-channel logout reached the application
    assert wiki.store.ended_by_backchannel == 1
    userinfo = requests.get(
        f"{stack.hub_url}/oauth2/userinfo", headers={"Authorization": f"Bearer {local.access_token}"}, timeout=10
    )
    assert userinfo.status_code == 401
    assert browser.get(f"{stack.hub_url}/account", timeout=10, allow_redirects=False).status_code == 302
    with stack.rt.db.session() as session:
        ended = session.scalars(select(AuditEvent).where(AuditEvent.type == "upstream.account_ended")).one()
    assert ended.details["provider_error"] == "AADSTS50057" and ended.details["via"] == "upstream_check"
    again = sign_in_to(stack, "Wiki", browser)
    assert "AADSTS50057" in again.text and "Signed in as" not in again.text


def test_a_movers_new_roles_reach_the_application_at_its_next_refresh(emulator, live_hub):
    with running_stack(emulator, live_hub) as stack:
        emulator.auto_sign_in = ALICE
        wiki = stack.add_app("Wiki", scope="openid profile email roles")
        browser = requests.Session()
        assert "Signed in as" in sign_in_to(stack, "Wiki", browser).text
        [local] = list(wiki.store._sessions.values())
        assert "admin" in local.claims["roles"]
        tenant = emulator.tenants[CONTOSO_TENANT_ID]
        emulator.tenants[CONTOSO_TENANT_ID] = replace(
            tenant, users=tuple(replace(u, app_roles=()) if u.email == ALICE else u for u in tenant.users)
        )
        rewind_confirmations(stack, stack.rt.settings.upstream_check_seconds + 1)
        refreshed = requests.post(
            f"{stack.hub_url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": local.refresh_token},
            auth=(wiki.client_id, wiki.client_secret), timeout=20,
        )
        assert refreshed.status_code == 200, refreshed.text
        claims = json.loads(base64.urlsafe_b64decode(refreshed.json()["id_token"].split(".")[1] + "=="))
        assert claims["roles"] == []


def test_the_demo_disable_button_signs_the_person_out_of_both_applications(emulator, live_hub):
    with running_stack(emulator, live_hub) as stack:
        emulator.auto_sign_in = ALICE
        wiki, notes = stack.add_app("Wiki"), stack.add_app("Notes")
        browser = requests.Session()
        assert "Signed in as" in sign_in_to(stack, "Wiki", browser).text
        assert "Signed in as" in sign_in_to(stack, "Notes", browser).text
        people = requests.get(f"{emulator.base_url}/_emulator/people", timeout=10)
        assert ALICE in people.text and "Disable" in people.text
        pressed = requests.post(
            f"{emulator.base_url}/_emulator/disable-user", data={"email": ALICE, "disabled": "true"}, timeout=10
        )
        assert pressed.status_code == 200 and "disabled" in pressed.text  # back on the people page
        rewind_confirmations(stack, stack.rt.settings.upstream_check_seconds + 1)
        for local in wiki.store._sessions.values():
            local.refreshed = 0.0  # the example refreshes at its next page view
        page = browser.get(f"{wiki.base_url}/", timeout=20)
        assert "You are not signed in" in page.text
        assert eventually(lambda: notes.sessions() == 0)  # the other application, by back-channel logout


def connect_scim(stack: Stack) -> None:
    """What `hub demo` does at start: a SCIM token for the `entra` provider (the action `hub scim
    token entra` calls) pasted into the emulator's provisioning service."""
    connect_provisioning(stack.rt, stack.emulator, stack.hub_url)


def press(stack: Stack, button: str, email: str = ALICE) -> requests.Response:
    """A SCIM button of the emulator's people page, as the browser posts its form."""
    push = {"Deprovision (SCIM)": "deprovision", "Provision (SCIM)": "provision"}[button]
    page = requests.get(f"{stack.emulator.base_url}/_emulator/people", timeout=10)
    assert f'value="{push}">{button}</button>' in page.text
    return requests.post(f"{stack.emulator.base_url}/_emulator/scim-user", data={"email": email, "push": push}, timeout=30)


def scim_events(stack: Stack) -> list[AuditEvent]:
    with stack.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type.like("scim.user_%")).order_by(AuditEvent.seq)))


def alice_at_the_hub(stack: Stack) -> User:
    with stack.rt.db.session() as session:
        account = session.scalars(select(LinkedAccount).where(LinkedAccount.provider_id == "entra")).one()
        return session.get(User, account.user_id)


def test_the_demo_deprovision_scim_button_signs_the_person_out_at_once(emulator, live_hub):
    # An interval no test waits for: only the push can have ended the session.
    with running_stack(emulator, live_hub, upstream_check_seconds=86400) as stack:
        emulator.auto_sign_in = ALICE
        wiki = stack.add_app("Wiki")
        connect_scim(stack)
        browser = requests.Session()
        assert "Signed in as" in sign_in_to(stack, "Wiki", browser).text
        [local] = list(wiki.store._sessions.values())

        pressed = press(stack, "Deprovision (SCIM)")
        assert pressed.status_code == 200 and "deprovision: HTTP 201" in pressed.text, pressed.text

        refreshed = requests.post(
            f"{stack.hub_url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": local.refresh_token},
            auth=(wiki.client_id, wiki.client_secret), timeout=20,
        )
        assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        assert browser.get(f"{stack.hub_url}/account", timeout=10, allow_redirects=False).status_code == 302
        assert eventually(lambda: wiki.sessions() == 0)  # the back-channel logout reached the application
        [created] = scim_events(stack)
        assert created.type == "scim.user_create" and created.details["scim_token_name"] == SCIM_TOKEN_NAME
        assert created.details["via"] == "scim"
        with stack.rt.db.session() as session:
            disabled = session.scalars(select(AuditEvent).where(AuditEvent.type == "admin.disable_user")).one()
        assert disabled.details["via"] == "scim" and alice_at_the_hub(stack).disabled_by == "provisioning:entra"
        with stack.rt.db.session() as session:
            upstream_checks = session.scalars(select(AuditEvent).where(AuditEvent.type == "upstream.account_ended")).all()
        assert upstream_checks == []  # the pull check never ran: the push did it all


def test_the_demo_provision_scim_button_lets_a_deprovisioned_person_back_in(emulator, live_hub):
    with running_stack(emulator, live_hub, upstream_check_seconds=86400) as stack:
        emulator.auto_sign_in = ALICE
        stack.add_app("Wiki")
        connect_scim(stack)
        browser = requests.Session()
        assert "Signed in as" in sign_in_to(stack, "Wiki", browser).text
        assert "provision: HTTP 201" in press(stack, "Provision (SCIM)").text  # the first push: created
        assert "deprovision: HTTP 200" in press(stack, "Deprovision (SCIM)").text  # Entra's PATCH "False"
        assert alice_at_the_hub(stack).disabled_at is not None
        assert "AADSTS50057" in sign_in_to(stack, "Wiki", requests.Session()).text

        pressed = press(stack, "Provision (SCIM)")  # Entra's PATCH "True"
        assert "provision: HTTP 200 (active)" in pressed.text and emulator.disabled_oids == set()
        assert alice_at_the_hub(stack).disabled_at is None
        assert [event.type for event in scim_events(stack)] == ["scim.user_create", "scim.user_patch", "scim.user_patch"]
        assert all(event.details["scim_token_name"] == SCIM_TOKEN_NAME for event in scim_events(stack))
        assert "Signed in as" in sign_in_to(stack, "Wiki", requests.Session()).text


def test_each_demo_start_makes_a_new_scim_token_and_revokes_the_last(emulator, live_hub):
    with running_stack(emulator, live_hub) as stack:
        connect_scim(stack)
        connect_scim(stack)  # the demo started again: the emulator forgot the first token
        with stack.rt.db.session() as session:
            made = session.scalars(select(ScimToken).order_by(ScimToken.id)).all()
        assert [(t.provider_id, t.name, t.revoked_at is None) for t in made] == [
            ("entra", SCIM_TOKEN_NAME, False), ("entra", SCIM_TOKEN_NAME, True),
        ]
        assert "provision: HTTP 201" in press(stack, "Provision (SCIM)", "bob@contoso.example").text
