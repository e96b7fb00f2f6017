"""The admin console in headless Chromium, through `hub demo` and its Entra emulator."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def sign_in(page, base: str, person: str, provider_button: str = "Sign in with Microsoft") -> None:
    page.goto(f"{base}/login")
    page.get_by_role("button", name=provider_button).click()
    page.get_by_role("button", name=person).click()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{base}/account")


def link_fabrikam(page, base: str, person: str) -> None:
    page.get_by_role("button", name="Link a Fabrikam account").click()
    page.get_by_role("button", name=person).click()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{base}/account")


def test_admin_searches_opens_a_user_unlinks_and_sees_the_audit_event(demo, browser):
    bob = browser.new_context().new_page()
    sign_in(bob, demo, "Bob Brown")
    link_fabrikam(bob, demo, "Mallory Moss")  # Bob now has two linked accounts
    assert bob.get_by_role("button", name="Unlink").count() == 2

    admin = browser.new_context().new_page()
    sign_in(admin, demo, "Alice Adams")
    admin.get_by_role("link", name="Admin").click()
    expect(admin.get_by_role("heading", name="Overview")).to_be_visible()
    expect(admin.locator("svg").first).to_be_visible()  # the sign-ins chart, drawn server-side

    admin.goto(f"{demo}/admin/accounts")
    admin.get_by_label("Search").fill("bob")
    admin.get_by_role("button", name="Apply").click()
    admin.get_by_role("link", name="Bob Brown").first.click()
    expect(admin.get_by_role("heading", name=re.compile("Bob Brown"))).to_be_visible()

    admin.get_by_role("button", name=re.compile(r"^Unlink Fabrikam account")).click()
    admin.get_by_role("button", name="Yes, unlink").click()
    expect(admin.get_by_role("status")).to_be_visible()
    assert admin.get_by_role("button", name=re.compile(r"^Unlink ")).count() == 0  # the last account stays
    expect(admin.get_by_text("unlink", exact=True).first).to_be_visible()  # the event, as the account page records it too

    bob.goto(f"{demo}/account")
    assert "Fabrikam" not in bob.locator("table").inner_text()


def test_non_admin_gets_403(demo, page):
    sign_in(page, demo, "Bob Brown")
    response = page.goto(f"{demo}/admin")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()


def test_forged_post_without_csrf_token_is_refused_and_changes_nothing(demo, browser):
    bob = browser.new_context().new_page()
    sign_in(bob, demo, "Bob Brown")
    admin = browser.new_context().new_page()
    sign_in(admin, demo, "Alice Adams")
    admin.goto(f"{demo}/admin/accounts")
    admin.get_by_role("link", name="Bob Brown").first.click()
    user_url = admin.url
    forged = admin.request.post(f"{user_url}/signout_everywhere", form={"confirm": "yes"})
    assert forged.status == 400
    bob.goto(f"{demo}/account")
    assert bob.url == f"{demo}/account"  # Bob is still signed in: nothing changed


def test_times_are_shown_in_the_viewers_time_zone_with_utc_on_hover(demo, browser):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    admin = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US").new_page()
    sign_in(admin, demo, "Alice Adams")
    admin.goto(f"{demo}/admin/accounts")
    first = admin.locator("time.local").first
    utc = datetime.fromisoformat(first.get_attribute("datetime"))
    tokyo = utc.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo.hour % 12 or 12}:{tokyo.minute:02d}" in first.inner_text()
    assert "UTC" not in first.inner_text()
    assert first.get_attribute("title").endswith(" UTC")
