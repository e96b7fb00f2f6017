"""The plugin model over real sockets on 127.0.0.1: the hub with three provider types from their
entry points (entra, oidc against the Entra emulator as a plain OpenID provider, github against
the fake GitHub), driven as a browser drives it (requests following redirects)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from hub.core.models import LinkedAccount, TokenSet, User, WebSession, utcnow
from hub_entra.emulator.directory import CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID

ALICE, CAROL = "alice@contoso.example", "carol@fabrikam.example"


@pytest.fixture
def hub(live_hub, emulator, github) -> tuple[str, Any]:
    """A hub with `entra` (Contoso), `corp` (oidc: Fabrikam through plain OpenID Connect) and
    `github`, all loaded from their entry points."""

    def providers(base_url: str) -> dict[str, Any]:
        for provider_id in ("entra", "corp", "github"):
            emulator.add_redirect_uri(f"{base_url}/auth/{provider_id}/callback")
        entra = emulator.provider_settings(CONTOSO_TENANT_ID)
        return {
            "entra": {"type": "entra", "name": "Contoso", **entra},
            "corp": {
                "type": "oidc",
                "name": "Fabrikam SSO",
                "issuer": emulator.issuer(FABRIKAM_TENANT_ID),
                "client_id": entra["client_id"],
                "client_secret": entra["client_secret"],
                "scopes": ["openid", "profile", "email", "offline_access"],
            },
            "github": {"type": "github", "name": "GitHub", **github.provider_settings()},
        }

    return live_hub(providers, ("entra", "oidc", "github"))


def press(browser: requests.Session, base_url: str, provider_id: str, page: str = "/login", **form: str) -> requests.Response:
    """Press a provider's button on a hub page and follow every redirect."""
    html = browser.get(f"{base_url}{page}", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    return browser.post(f"{base_url}/auth/{provider_id}/start", data={"csrf_token": token, **form}, timeout=20)


def accounts(app: Any) -> list[LinkedAccount]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(LinkedAccount).order_by(LinkedAccount.id)))


def test_the_sign_in_page_offers_every_plugins_provider(hub) -> None:
    base_url, _ = hub
    page = requests.get(f"{base_url}/login", timeout=10).text
    for label in ("Sign in with Contoso", "Sign in with Fabrikam SSO", "Sign in with GitHub"):
        assert label in page


def test_sign_in_with_the_emulator_as_a_generic_oidc_provider(hub, emulator) -> None:
    base_url, app = hub
    emulator.auto_sign_in = CAROL
    response = press(requests.Session(), base_url, "corp")
    assert response.status_code == 200 and response.url == f"{base_url}/account"
    assert "Carol Chen" in response.text
    (account,) = accounts(app)
    assert account.provider_id == "corp" and account.issuer == emulator.issuer(FABRIKAM_TENANT_ID)
    assert account.tenant is None and len(account.subject) > 20  # the pairwise `sub`, not an email


def test_sign_in_with_github_keys_on_the_numeric_id(hub, github) -> None:
    base_url, app = hub
    github.auto_sign_in = "ada"
    response = press(requests.Session(), base_url, "github")
    assert response.status_code == 200 and "Ada Example" in response.text
    (account,) = accounts(app)
    assert (account.provider_id, account.subject) == ("github", "4242424")


def test_link_a_github_account_to_an_entra_created_user(hub, emulator, github) -> None:
    base_url, app = hub
    browser = requests.Session()
    emulator.auto_sign_in = ALICE
    assert press(browser, base_url, "entra").url == f"{base_url}/account"
    github.auto_sign_in = "ada"
    linked = press(browser, base_url, "github", page="/account", intent="link")
    assert linked.status_code == 200 and linked.url.startswith(f"{base_url}/account")
    rows = accounts(app)
    assert [a.provider_id for a in rows] == ["entra", "github"] and rows[0].user_id == rows[1].user_id
    with app.extensions["hub"].db.session() as session:
        assert len(session.scalars(select(User)).all()) == 1
    # Signing in with GitHub alone now reaches the same person.
    assert "Alice Adams" in press(requests.Session(), base_url, "github").text


@pytest.mark.parametrize(("provider_id", "person"), [("corp", CAROL), ("github", "ada")])
def test_refresh_over_sockets_rotates_the_stored_refresh_token(hub, emulator, github, provider_id, person) -> None:
    base_url, app = hub
    if provider_id == "github":
        github.auto_sign_in = person
    else:
        emulator.auto_sign_in = person
    press(requests.Session(), base_url, provider_id)
    rt = app.extensions["hub"]
    (account,) = accounts(app)
    with rt.db.session() as session, session.begin():
        token_set = session.scalars(select(TokenSet).where(TokenSet.linked_account_id == account.id)).one()
        before = rt.vault.read(token_set)
        session.execute(update(TokenSet).where(TokenSet.id == token_set.id).values(access_expires_at=utcnow() - timedelta(minutes=1)))
    fresh = rt.vault.access_token(rt.db, account.id, rt.providers, rt.audit)
    assert fresh.value != before.access_token
    with rt.db.session() as session:
        after = rt.vault.read(session.scalars(select(TokenSet).where(TokenSet.linked_account_id == account.id)).one())
    assert after.refresh_token and after.refresh_token != before.refresh_token
    if provider_id == "github":  # single use: the old refresh token is spent at GitHub
        assert github.redeem({"client_id": github.client_id, "client_secret": github.client_secret,
                              "grant_type": "refresh_token", "refresh_token": before.refresh_token})["error"] == "bad_refresh_token"  # fmt: skip


def test_entra_front_channel_logout_over_sockets_ends_the_session(hub, emulator) -> None:
    base_url, app = hub
    browser = requests.Session()
    emulator.auto_sign_in = ALICE
    press(browser, base_url, "entra")
    with app.extensions["hub"].db.session() as session:
        sid = session.scalars(select(WebSession.provider_session_id)).one()
    assert sid
    response = requests.get(f"{base_url}/auth/entra/frontchannel-logout", params={"sid": sid}, timeout=10)
    assert response.status_code == 200
    assert f"frame-ancestors {emulator.base_url}" in response.headers["Content-Security-Policy"]
    assert browser.get(f"{base_url}/account", timeout=10).url.startswith(f"{base_url}/login")
