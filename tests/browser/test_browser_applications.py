"""Applications signing in through the hub, in a real headless Chromium, clicking what a person
clicks: app A -> hub -> Entra emulator -> app A; app B gets in silently (SSO); signing out at
the hub ends both applications' sessions (back-channel logout); a third-party application's
consent page is shown once, then remembered; "Remove access" on Connected applications."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.downstream import Stack, eventually, running_stack

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("HUB_SCREENSHOTS", "/tmp"))


@pytest.fixture
def stack(emulator, live_hub) -> Iterator[Stack]:
    with running_stack(emulator, live_hub) as running:
        running.add_app("Notes")
        running.add_app("Wiki")
        running.add_app("Partner portal", first_party=False)
        yield running


def sign_in_at_the_emulator(page, person: str = "Alice Adams") -> None:
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name=person).click()
    page.get_by_role("button", name="Accept").click()


def status(page, stack: Stack, app: str) -> str:
    page.goto(f"{stack.apps[app].base_url}/")
    return page.locator("#status").inner_text()


def test_sign_in_through_the_hub_then_single_sign_on_then_sign_out_everywhere(stack, page):
    notes, wiki = stack.apps["Notes"], stack.apps["Wiki"]
    page.goto(f"{notes.base_url}/")
    page.get_by_role("link", name="Sign in with Identity Hub").click()
    expect(page.get_by_role("heading", name="Sign in to Notes")).to_be_visible()  # the hub names the app
    sign_in_at_the_emulator(page)
    page.wait_for_url(f"{notes.base_url}/")
    assert "Signed in as Alice Adams" in page.locator("#status").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "hub-app-signed-in.png"))

    page.goto(f"{wiki.base_url}/")
    page.get_by_role("link", name="Sign in with Identity Hub").click()
    page.wait_for_url(f"{wiki.base_url}/")  # no page of the hub nor of the emulator in between
    assert "Signed in as Alice Adams" in page.locator("#status").inner_text()

    page.goto(f"{stack.hub_url}/account")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{stack.hub_url}/**")
    assert eventually(lambda: notes.sessions() == 0 and wiki.sessions() == 0)
    assert status(page, stack, "Notes") == "You are not signed in."
    assert status(page, stack, "Wiki") == "You are not signed in."


def test_consent_is_asked_once_then_remembered_and_remove_access_asks_again(stack, page):
    portal = stack.apps["Partner portal"]
    page.goto(f"{portal.base_url}/login")
    sign_in_at_the_emulator(page)
    expect(page.get_by_role("heading", name="Allow Partner portal to use your account?")).to_be_visible()
    expect(page.get_by_text("see your email address")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "hub-app-consent.png"))
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{portal.base_url}/")
    assert "Signed in as Alice Adams" in page.locator("#status").inner_text()

    page.get_by_role("button", name="Sign out").click()  # RP-initiated logout: the hub session ends too
    page.wait_for_url(f"{portal.base_url}/**")
    page.goto(f"{portal.base_url}/login")
    sign_in_at_the_emulator(page)
    page.wait_for_url(f"{portal.base_url}/")  # consent remembered: no question this time
    assert "Signed in as Alice Adams" in page.locator("#status").inner_text()

    page.goto(f"{stack.hub_url}/account")
    connected = page.locator("#connected-applications")
    expect(connected.get_by_text("Partner portal")).to_be_visible()
    expect(connected.get_by_text("see your name")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "hub-connected-applications.png"))
    connected.get_by_role("button", name="Remove access of Partner portal").click()
    expect(page.get_by_text("Access removed")).to_be_visible()
    expect(page.locator("#connected-applications").get_by_text("Partner portal")).to_be_hidden()
    assert eventually(lambda: portal.sessions() == 0)  # the application was told
    assert status(page, stack, "Partner portal") == "You are not signed in."

    page.goto(f"{portal.base_url}/login")  # still signed in at the hub, but asked again
    expect(page.get_by_role("heading", name="Allow Partner portal to use your account?")).to_be_visible()
