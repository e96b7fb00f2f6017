"""Several providers of two plugin types at once, in a real headless Chromium: two Entra tenants
(Contoso and Fabrikam, two `entra` providers) and one `oidc` provider (the emulator's Contoso
tenant as a plain OpenID provider), each signing in its own people through the emulator's
account picker and consent page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hub.core.models import LinkedAccount
from hub_entra.emulator import EntraEmulator
from hub_entra.emulator.directory import CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID
from tests.live import chromium_or_skip

pytestmark = pytest.mark.browser


@pytest.fixture
def hub(live_hub, emulator) -> tuple[str, Any, EntraEmulator]:
    chromium_or_skip()

    def providers(base_url: str) -> dict[str, Any]:
        for provider_id in ("contoso", "fabrikam", "corp"):
            emulator.add_redirect_uri(f"{base_url}/auth/{provider_id}/callback")
        contoso = emulator.provider_settings(CONTOSO_TENANT_ID)
        return {
            "contoso": {"type": "entra", "name": "Contoso", **contoso},
            "fabrikam": {"type": "entra", "name": "Fabrikam", **emulator.provider_settings(FABRIKAM_TENANT_ID)},
            "corp": {
                "type": "oidc",
                "name": "Contoso SSO",
                "issuer": emulator.issuer(CONTOSO_TENANT_ID),
                "client_id": contoso["client_id"],
                "client_secret": contoso["client_secret"],
                "scopes": ["openid", "profile", "email", "offline_access"],
            },
        }

    base_url, app = live_hub(providers, ("entra", "oidc"))
    return base_url, app, emulator


def sign_in_in_browser(page: Any, base_url: str, button: str, person: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_role("button", name=button, exact=True).click()
    page.get_by_role("button", name=person, exact=True).click()
    page.get_by_role("button", name="Accept", exact=True).click()
    page.wait_for_url(f"{base_url}/account")


@pytest.mark.parametrize(
    ("button", "person", "provider_id"),
    [("Sign in with Contoso", "Alice Adams", "contoso"),
     ("Sign in with Fabrikam", "Carol Chen", "fabrikam"),
     ("Sign in with Contoso SSO", "Bob Brown", "corp")],
)  # fmt: skip
def test_each_provider_signs_in_its_own_people(hub, browser, button: str, person: str, provider_id: str) -> None:
    base_url, app, _ = hub
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in_in_browser(page, base_url, button, person)
        assert person in page.content()
    finally:
        context.close()
    with app.extensions["hub"].db.session() as session:
        assert session.scalars(select(LinkedAccount.provider_id)).all() == [provider_id]


def test_three_providers_side_by_side_keep_people_apart(hub, page) -> None:
    base_url, app, emulator = hub
    page.goto(f"{base_url}/login")
    for label in ("Sign in with Contoso", "Sign in with Fabrikam", "Sign in with Contoso SSO"):
        expect(page.get_by_role("button", name=label, exact=True)).to_be_visible()
    sign_in_in_browser(page, base_url, "Sign in with Fabrikam", "Carol Chen")
    page.context.clear_cookies()
    sign_in_in_browser(page, base_url, "Sign in with Contoso SSO", "Alice Adams")
    page.context.clear_cookies()
    sign_in_in_browser(page, base_url, "Sign in with Contoso", "Alice Adams")
    with app.extensions["hub"].db.session() as session:
        rows = session.scalars(select(LinkedAccount).order_by(LinkedAccount.id)).all()
    assert [row.provider_id for row in rows] == ["fabrikam", "corp", "contoso"]
    # The same person through two provider types is two linked accounts (never joined by email).
    assert len({row.user_id for row in rows}) == 3
    assert rows[0].tenant == FABRIKAM_TENANT_ID and rows[1].issuer == emulator.issuer(CONTOSO_TENANT_ID)
