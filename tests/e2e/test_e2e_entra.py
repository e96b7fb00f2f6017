"""The hub and the Entra emulator over real sockets on 127.0.0.1: the whole sign-in as a browser
makes it (requests following redirects), with the real `entra` plugin from its entry point."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update

from hub.app import create_app
from hub.core.config import load_settings
from hub.core.models import AuditEvent, LinkedAccount, TokenSet, User, WebSession, utcnow
from hub.plugin.manager import load_plugins
from hub_entra.emulator import EntraEmulator
from hub_entra.emulator.directory import CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID, Client
from hub_entra.emulator.keys import CertifiedKey
from tests.live import serve

ALICE, BOB, CAROL = "alice@contoso.example", "bob@contoso.example", "carol@fabrikam.example"


@pytest.fixture
def hub_factory(live_hub, emulator) -> Callable[..., tuple[str, Any]]:
    """Start a hub whose providers point at the emulator: `hub_factory(entra={...settings})`."""

    def start(**providers: dict[str, Any]) -> tuple[str, Any]:
        def tables(base_url: str) -> dict[str, Any]:
            result = {}
            for provider_id, overrides in providers.items():
                redirect_uri = f"{base_url}/auth/{provider_id}/callback"
                emulator.add_redirect_uri(redirect_uri, overrides.get("client_id"))
                result[provider_id] = {
                    "type": "entra",
                    "name": provider_id.title(),
                    **emulator.provider_settings(overrides.pop("tenant", CONTOSO_TENANT_ID), client_id=overrides.get("client_id")),
                    **overrides,
                    "redirect_uri": redirect_uri,
                }
            return result

        return live_hub(tables, ("entra",))

    return start


def hub_rt(app):
    return app.extensions["hub"]


def sign_in(base_url: str, provider_id: str = "entra", browser: requests.Session | None = None) -> requests.Response:
    """Press the provider's button on /login and follow every redirect, as a browser does."""
    browser = browser or requests.Session()
    login = browser.get(f"{base_url}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    return browser.post(f"{base_url}/auth/{provider_id}/start", data={"csrf_token": token}, timeout=20)


def count(app, model) -> int:
    with hub_rt(app).db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def last_signin(app) -> AuditEvent:
    with hub_rt(app).db.session() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.type == "signin").order_by(AuditEvent.seq.desc())).first()


def test_sign_in_shows_the_graph_profile_and_links_by_tid_and_oid(hub_factory, emulator):
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = ALICE
    response = sign_in(base_url)
    assert response.status_code == 200 and response.url == f"{base_url}/account"
    assert "Alice Adams" in response.text and "alice@contoso.example" in response.text
    assert "Administrator" in response.text  # app role Hub.Admin mapped to admin
    with hub_rt(app).db.session() as session:
        account = session.scalars(select(LinkedAccount)).one()
    tenant, user = emulator.find_user(ALICE)
    assert account.subject == f"{tenant.id}:{user.oid}".lower()
    assert account.tenant == tenant.id
    assert last_signin(app).outcome == "success"


def test_second_sign_in_of_the_same_person_reuses_the_account(hub_factory, emulator):
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = BOB
    sign_in(base_url)
    sign_in(base_url)  # a new browser, the same person
    assert count(app, User) == 1 and count(app, LinkedAccount) == 1


def test_no_discovery_or_key_fetch_per_sign_in(hub_factory, emulator):
    base_url, _ = hub_factory(entra={})
    emulator.auto_sign_in = BOB
    for _ in range(4):
        assert sign_in(base_url).status_code == 200
    assert emulator.requests["discovery"] == 1
    assert emulator.requests["keys"] == 1
    assert emulator.requests["token"] == 4 and emulator.requests["graph"] == 4


def test_multi_tenant_provider_with_an_allow_list(hub_factory, emulator):
    base_url, app = hub_factory(entra={"tenant": "organizations", "allowed_tenants": [CONTOSO_TENANT_ID]})
    emulator.auto_sign_in = ALICE
    assert sign_in(base_url).url.endswith("/account")
    emulator.auto_sign_in = CAROL
    refused = sign_in(base_url)
    assert refused.status_code == 403
    assert count(app, User) == 1
    event = last_signin(app)
    assert (event.outcome, event.details["reason"]) == ("failure", "tenant_denied")


def test_two_tenants_side_by_side_sign_in_their_own_people(hub_factory, emulator):
    base_url, app = hub_factory(contoso={"tenant": CONTOSO_TENANT_ID}, fabrikam={"tenant": FABRIKAM_TENANT_ID})
    emulator.auto_sign_in = ALICE
    assert "Alice Adams" in sign_in(base_url, "contoso").text
    emulator.auto_sign_in = CAROL
    assert "Carol Chen" in sign_in(base_url, "fabrikam").text
    emulator.auto_sign_in = CAROL
    wrong_tenant = sign_in(base_url, "contoso")  # Carol is not a member of Contoso
    assert wrong_tenant.url.startswith(emulator.base_url)  # refused by the provider, not signed in
    assert count(app, LinkedAccount) == 2
    with hub_rt(app).db.session() as session:
        assert sorted(session.scalars(select(LinkedAccount.provider_id))) == ["contoso", "fabrikam"]


def test_certificate_credential(hub_factory, emulator):
    certified = CertifiedKey.generate("hub e2e certificate")
    client_id = "c0c0c0c0-0000-4000-8000-00000000e2e0"
    emulator.add_client(Client(client_id=client_id, name="Hub (certificate)", home_tenant=CONTOSO_TENANT_ID, certificates_pem=(certified.certificate_pem(),), multi_tenant=False))
    base_url, app = hub_factory(
        entra={
            "client_id": client_id,
            "certificate": certified.certificate_pem().decode(),
            "certificate_key": certified.private_key_pem().decode(),
        }
    )
    emulator.auto_sign_in = ALICE
    assert sign_in(base_url).url.endswith("/account")
    assert hub_rt(app).providers["entra"].settings.get("client_secret") is None


def test_sovereign_cloud_authority_host(tmp_path, database_url):
    """Another authority host (as for US Government or China clouds) is used for discovery,
    tokens, keys and issuer checks alike: here the emulator answers as `localhost`."""
    with EntraEmulator(public_host="localhost") as cloud:
        def make_app(base_url: str) -> Any:
            cloud.add_redirect_uri(f"{base_url}/auth/entra/callback")
            settings = load_settings(
                environ={},
                overrides={
                    "instance_path": str(tmp_path / "i"),
                    "database_url": database_url,
                    "base_url": base_url,
                    "providers": {"entra": {"type": "entra", **cloud.provider_settings(CONTOSO_TENANT_ID), "redirect_uri": f"{base_url}/auth/entra/callback"}},
                },
            )
            return create_app(settings=settings, plugins=load_plugins(("entra",)))

        with serve(make_app) as (base_url, app):
            cloud.auto_sign_in = ALICE
            response = sign_in(base_url)
            assert response.url.endswith("/account")
            with hub_rt(app).db.session() as session:
                assert session.scalars(select(LinkedAccount.issuer)).one().startswith("http://localhost:")


@pytest.mark.parametrize(
    "misbehaviour, options, status, reason",
    [
        ("bad_signature", {}, 400, "bad_signature"),
        ("wrong_nonce", {}, 400, "nonce_mismatch"),
        ("wrong_issuer", {}, 400, "issuer_mismatch"),
        ("expired_id_token", {}, 400, "token_expired"),
        ("graph_wrong_id", {}, 400, "subject_mismatch"),
        ("http_error", {"endpoint": "graph", "status": 500}, 503, "provider_unavailable"),
        ("invalid_client", {}, 503, "provider_misconfigured"),
    ],
)
def test_misbehaving_provider_ends_in_a_clear_page_and_writes_nothing(hub_factory, emulator, misbehaviour, options, status, reason):
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = ALICE
    emulator.misbehave(misbehaviour, **options)
    response = sign_in(base_url)
    assert response.status_code == status
    assert "Traceback" not in response.text
    for model in (User, LinkedAccount, TokenSet, WebSession):
        assert count(app, model) == 0
    event = last_signin(app)
    assert (event.outcome, event.details["reason"]) == ("failure", reason)
    if status == 400 and misbehaviour != "graph_wrong_id":
        assert emulator.requests["graph"] == 0  # no Graph call after a rejected ID token


def test_user_declining_consent_gets_a_page_with_the_aadsts_code(hub_factory, emulator):
    base_url, app = hub_factory(entra={})
    emulator.misbehave("authorize_error", error="access_denied", aadsts=65004)
    response = sign_in(base_url)
    assert response.status_code == 400
    assert "AADSTS65004" in html.unescape(response.text)
    assert count(app, User) == 0


def test_key_rotation_is_picked_up_with_one_refetch(hub_factory, emulator):
    base_url, _ = hub_factory(entra={})
    emulator.auto_sign_in = BOB
    sign_in(base_url)
    emulator.rotate_keys(retire_old=True)
    assert sign_in(base_url).url.endswith("/account")
    assert emulator.requests["keys"] == 2


def test_vault_refreshes_through_the_emulator_with_rotation(hub_factory, emulator):
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = ALICE
    sign_in(base_url)
    rt = hub_rt(app)
    with rt.db.session() as session, session.begin():
        account_id = session.scalar(select(LinkedAccount.id))
        old_refresh = rt.vault.read(session.scalars(select(TokenSet)).one()).refresh_token
        session.execute(update(TokenSet).values(access_expires_at=utcnow() - timedelta(minutes=1)))
    token = rt.vault.access_token(rt.db, account_id, rt.providers, rt.audit)
    assert token.value and token.expires_at > utcnow()
    with rt.db.session() as session:
        new_refresh = rt.vault.read(session.scalars(select(TokenSet)).one()).refresh_token
    assert new_refresh != old_refresh  # rotated and stored
    graph = requests.get(f"{emulator.graph_url}/v1.0/me", headers={"Authorization": f"Bearer {token.value}"}, timeout=10)
    assert graph.status_code == 200 and graph.json()["displayName"] == "Alice Adams"


def test_no_secret_reaches_the_database_or_logs_end_to_end(hub_factory, emulator, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = ALICE
    page = sign_in(base_url).text
    rt = hub_rt(app)
    with rt.db.session() as session, session.begin():
        tokens = rt.vault.read(session.scalars(select(TokenSet)).one())
        account_id = session.scalar(select(LinkedAccount.id))
        session.execute(update(TokenSet).values(access_expires_at=utcnow() - timedelta(minutes=1)))
    fresh = rt.vault.access_token(rt.db, account_id, rt.providers, rt.audit)
    secrets = [tokens.access_token, tokens.refresh_token, tokens.id_token, fresh.value, "emulator-demo-secret"]
    from sqlalchemy import text

    from hub.core.models import Base

    with rt.db.engine.connect() as connection:
        dump = "\n".join(
            (bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value))
            for table in Base.metadata.sorted_tables
            for row in connection.execute(text(f"SELECT * FROM {table.name}"))
            for value in row
        )
    for secret in secrets:
        assert secret and secret not in dump
        assert secret not in caplog.text
        assert secret not in page


def test_tutorial_env_works_unchanged_and_answers_at_its_callback_path(tmp_path, database_url, emulator):
    """TENANT_ID, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI and no hub.toml: one provider `entra`,
    answering at /callback as the tutorial registers. Only the authority points at the emulator."""
    settings_of = emulator.provider_settings(CONTOSO_TENANT_ID)

    def make_app(base_url: str) -> Any:
        emulator.add_redirect_uri(f"{base_url}/callback")
        environ = {
            "TENANT_ID": CONTOSO_TENANT_ID,
            "CLIENT_ID": settings_of["client_id"],
            "CLIENT_SECRET": settings_of["client_secret"],
            "REDIRECT_URI": f"{base_url}/callback",
            "HUB_PROVIDERS__ENTRA__AUTHORITY_HOST": emulator.base_url,
            "HUB_PROVIDERS__ENTRA__GRAPH_BASE_URL": emulator.graph_url,
            "HUB_INSTANCE_PATH": str(tmp_path / "tutorial"),
            "HUB_DATABASE_URL": database_url,
            "HUB_BASE_URL": base_url,
            "HUB_DOTENV": str(tmp_path / "none.env"),
        }
        return create_app(settings=load_settings(environ=environ), plugins=load_plugins(("entra",)))

    with serve(make_app) as (base_url, app):
        assert list(hub_rt(app).providers) == ["entra"]
        emulator.auto_sign_in = BOB
        browser = requests.Session()
        response = sign_in(base_url, "entra", browser)
        assert response.url == f"{base_url}/account" and "Bob Brown" in response.text
        assert any(r.url.startswith(f"{base_url}/callback?") for r in response.history)


def _callback_of(base_url: str) -> tuple[requests.Session, str]:
    """A browser at the point where Entra redirects back: the callback URL, not yet followed."""
    browser = requests.Session()
    login = browser.get(f"{base_url}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    to_entra = browser.post(f"{base_url}/auth/entra/start", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    back = browser.get(to_entra.headers["Location"], allow_redirects=False, timeout=10)
    return browser, back.headers["Location"]


@pytest.mark.parametrize("tenant", [FABRIKAM_TENANT_ID, None])
def test_rfc9207_a_callback_naming_another_issuer_is_refused_before_the_code_is_redeemed(hub_factory, emulator, tenant):
    """Found by the red team: the core checks `iss` for every provider type, Entra included."""
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = ALICE
    browser, callback = _callback_of(base_url)
    issuer = emulator.issuer(tenant) if tenant else "https://evil.example/v2.0"
    response = browser.get(f"{callback}&iss={requests.utils.quote(issuer, safe='')}", timeout=10)
    assert response.status_code == 400
    assert emulator.requests["token"] == 0
    assert count(app, User) == 0
    event = last_signin(app)
    assert (event.outcome, event.details["reason"]) == ("failure", "issuer_mismatch")


def test_rfc9207_the_providers_own_issuer_on_the_callback_signs_in(hub_factory, emulator):
    base_url, app = hub_factory(entra={})
    emulator.auto_sign_in = ALICE
    browser, callback = _callback_of(base_url)
    issuer = requests.utils.quote(emulator.issuer(CONTOSO_TENANT_ID), safe="")
    assert browser.get(f"{callback}&iss={issuer}", timeout=20).url.endswith("/account")
    assert count(app, User) == 1
