"""`hub demo` in a real headless Chromium: the README's first command, used as a person would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    assert page.get_by_role("heading", name="Alice Adams").is_visible()
    assert page.get_by_text("alice@contoso.example").first.is_visible()
    page.screenshot(path=str(Path(os.environ.get("HUB_SCREENSHOTS", "/tmp")) / "hub-demo-account.png"))


def test_declining_consent_shows_a_readable_error(demo, page):
    page.goto(f"{demo}/login")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name="Bob Brown").click()
    page.get_by_role("button", name="Cancel").click()
    assert page.get_by_role("heading", name="The identity provider did not sign you in").is_visible()
    assert "AADSTS" in page.content()
