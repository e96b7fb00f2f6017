"""Issue 19 in headless Chromium through `hub demo`: an administrator disables a person on the
Entra emulator's people page; the person's next use of the hub after the check interval finds
them refused, and the console shows the account's outcome and the leaver."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, update

from hub.core.models import LinkedAccount, utcnow
from tests.browser.test_browser_admin import sign_in

pytestmark = pytest.mark.browser


def rewind_confirmations(instance: str) -> None:
    """As if the demo's check interval had passed (the demo's own SQLite database)."""
    engine = create_engine(f"sqlite:///{Path(instance) / 'demo.sqlite3'}")
    long_ago = utcnow() - timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(update(LinkedAccount).values(linked_at=long_ago, last_sign_in_at=long_ago))
    engine.dispose()


def test_a_person_disabled_at_the_emulator_is_a_leaver_in_the_console(demo_banner, browser):
    hub, emulator = demo_banner["hub"], demo_banner["emulator"]
    bob = browser.new_context().new_page()
    sign_in(bob, hub, "Bob Brown")
    admin = browser.new_context().new_page()
    sign_in(admin, hub, "Alice Adams")

    directory = browser.new_context().new_page()
    directory.goto(f"{emulator}/_emulator/people")
    directory.get_by_role("row", name=re.compile("Bob Brown")).get_by_role("button", name="Disable").click()
    expect(directory.get_by_role("row", name=re.compile("Bob Brown"))).to_contain_text("disabled")

    rewind_confirmations(demo_banner["instance"])
    bob.goto(f"{hub}/account")
    bob.wait_for_url(re.compile(r"/login"))  # the check found Bob refused: his hub session is over

    admin.goto(f"{hub}/admin/leavers")
    row = admin.get_by_role("row", name=re.compile("refused by the provider"))
    expect(row).to_contain_text("AADSTS50057")
    row.get_by_role("link").click()
    expect(admin.get_by_role("heading", name=re.compile("Bob Brown"))).to_be_visible()
    expect(admin.locator("td.upstream-check")).to_contain_text("refused by the provider")


def test_a_person_deprovisioned_over_scim_at_the_emulator_is_signed_out_at_once(demo_banner, browser):
    """The push: the people page's "Deprovision (SCIM)" (the demo connected the emulator's
    provisioning service to the hub's SCIM endpoint) ends Bob's hub session with no waiting."""
    hub, emulator = demo_banner["hub"], demo_banner["emulator"]
    bob = browser.new_context().new_page()
    sign_in(bob, hub, "Bob Brown")
    admin = browser.new_context().new_page()
    sign_in(admin, hub, "Alice Adams")

    directory = browser.new_context().new_page()
    directory.goto(f"{emulator}/_emulator/people")
    directory.get_by_role("row", name=re.compile("Bob Brown")).get_by_role("button", name="Deprovision (SCIM)", exact=True).click()
    row = directory.get_by_role("row", name=re.compile("Bob Brown"))
    expect(row).to_contain_text("deprovision: HTTP 201")
    expect(row).to_contain_text("disabled")

    bob.goto(f"{hub}/account")  # no rewinding the check interval: the push ended the session
    bob.wait_for_url(re.compile(r"/login"))
    admin.goto(f"{hub}/admin/leavers")
    leaver = admin.get_by_role("row", name=re.compile("disabled by provisioning"))
    expect(leaver).to_have_count(1)
    leaver.get_by_role("link").first.click()  # the user's page says a directory manages Bob, and who disabled him
    expect(admin.get_by_role("heading", name=re.compile("Bob Brown"))).to_contain_text("provisioned")
    expect(admin.locator("dd.provisioning")).to_contain_text("managed by")
    expect(admin.locator("dd.provisioning")).to_contain_text("inactive there")
    expect(admin.get_by_text(re.compile("by .*directory \\(SCIM provisioning\\)"))).to_be_visible()

    directory.get_by_role("row", name=re.compile("Bob Brown")).get_by_role("button", name="Provision (SCIM)", exact=True).click()
    expect(directory.get_by_role("row", name=re.compile("Bob Brown"))).to_contain_text("provision: HTTP 200")
    sign_in(bob, hub, "Bob Brown")  # back in
    bob.goto(f"{hub}/account")
    expect(bob).to_have_url(re.compile(r"/account"))
