"""`hub demo` in a real headless Chromium: the README's first command, used as a person would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.downstream import eventually

pytestmark = pytest.mark.browser

def test_demo_migrates_its_own_database(demo, tmp_path):
    assert (tmp_path / "instance" / "demo.sqlite3").exists()  # migrated by itself


def test_person_signs_in_with_microsoft_and_sees_their_profile(demo, page):
    page.goto(demo)
    assert page.url.endswith("/login")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name="Alice Adams").click()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{demo}/account")
    expect(page.get_by_role("heading", name="Alice Adams")).to_be_visible()
    expect(page.get_by_text("alice@contoso.example").first).to_be_visible()
    page.screenshot(path=str(Path(os.environ.get("HUB_SCREENSHOTS", "/tmp")) / "hub-demo-account.png"))


def test_declining_consent_shows_a_readable_error(demo, page):
    page.goto(f"{demo}/login")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name="Bob Brown").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="The identity provider did not sign you in")).to_be_visible()
    assert "AADSTS" in page.content()


def test_the_demo_example_applications_sign_in_once_and_sign_out_together(demo_banner, page):
    first, second = demo_banner["Example app A"], demo_banner["Example app B"]
    page.goto(f"{first}/")
    page.get_by_role("link", name="Sign in with Identity Hub").click()
    expect(page.get_by_role("heading", name="Sign in to Example app A")).to_be_visible()
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name="Bob Brown").click()
    page.get_by_role("button", name="Accept").click()
    # The example apps ask for provider_tokens: the person allows that, first-party or not.
    expect(page.get_by_role("heading", name="Allow Example app A to use your account?")).to_be_visible()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{first}/")
    assert "Signed in as Bob Brown" in page.locator("#status").inner_text()
    page.goto(f"{second}/")
    page.get_by_role("link", name="Sign in with Identity Hub").click()
    page.get_by_role("button", name="Allow").click()  # single sign-on: no sign-in page, only the consent
    page.wait_for_url(f"{second}/")
    assert "Signed in as Bob Brown" in page.locator("#status").inner_text()
    page.screenshot(path=str(Path(os.environ.get("HUB_SCREENSHOTS", "/tmp")) / "hub-demo-example-app.png"))
    page.get_by_role("button", name="Sign out").click()  # RP-initiated logout from app B
    page.wait_for_url(f"{second}/**")
    assert page.locator("#status").inner_text() == "You are not signed in."

    def first_signed_out() -> bool:  # app A hears of it by back-channel, in the background
        page.goto(f"{first}/")
        return page.locator("#status").inner_text() == "You are not signed in."

    assert eventually(first_signed_out)
