"""The provider conformance kit: one suite every provider type runs against its own IdP.

A provider distribution subclasses `ProviderConformance` in a test module named `Test...`
and supplies an `adapter` fixture returning a `ConformanceAdapter`: how to configure the
provider, how to make the IdP side approve a sign-in for a person, and how to make it
misbehave. The suite then checks what every provider type owes the hub (SECURITY-CATALOGUE
C01-C11, B01-B03, R01, R07, R09, G01):

    class TestMyConformance(ProviderConformance):
        @pytest.fixture
        def adapter(self):
            with MyFakeIdP() as idp:
                yield MyAdapter(idp)

No pytest plugin registration is needed: the fixtures live on the class. A check the
provider's protocol does not have (a nonce without ID tokens) or the adapter cannot provoke
is skipped, never silently passed.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from flask import Flask
from sqlalchemy import select, update

from hub.errors import ProviderMisconfigured, ProviderUnavailable, RefreshRejected, SignInError, TokenRejected
from hub.http import ProviderSession
from hub.models import LinkedAccount, TokenSet, utcnow
from hub.provider import AuthorizationRequest, Callback, Identity, ProviderContext, ProviderType, SignInResult
from hub.registry import CORE_KEYS
from hub.testing.app import BASE_URL, callback_path, hub_app, query_of, start_sign_in

PROVIDER_ID = "conformance"
REDIRECT_URI = f"{BASE_URL}/auth/{PROVIDER_ID}/callback"
READ_TIMEOUT = 0.5
"""The kit's providers give up after this long, so a `timeout` misbehaviour of about a
second proves the timeout without slowing the suite."""
MISBEHAVIOURS = ("wrong_nonce", "wrong_issuer", "wrong_audience", "server_error", "timeout")
"""What `ConformanceAdapter.misbehave` is asked for; each applies to the next IdP answer."""


class ConformanceAdapter(abc.ABC):
    """What the kit needs to know about one provider type and its (fake) IdP."""

    plugin: ModuleType
    """The plugin module (the entry point's target) with `hub_provider_types`."""
    plugin_name: str
    users: tuple[str, str]
    """Two different people the IdP can sign in (names as `approve` understands them)."""
    has_id_token: bool = True
    """OpenID Connect: nonce, issuer and audience are checked. False for plain OAuth (GitHub)."""
    issues_new_refresh_token: bool = True
    """The IdP answers a refresh with a new refresh token (rotation)."""
    single_use_refresh_tokens: bool = False
    """A spent refresh token is refused afterwards (GitHub)."""

    @abc.abstractmethod
    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        """The provider's configuration table (with `type`), registering `redirect_uri` at
        the IdP where it needs that."""

    @abc.abstractmethod
    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        """Act as `user` in the browser at the IdP: return the callback's query parameters."""

    @abc.abstractmethod
    def token_calls(self) -> int:
        """How many requests the IdP's token endpoint has received so far."""

    def misbehave(self, kind: str) -> bool:
        """Make the IdP's next answer misbehave (`MISBEHAVIOURS`); False when unsupported."""
        return False

    def bad_client_settings(self) -> dict[str, Any]:
        """Setting overrides that make the IdP refuse the hub's client credentials."""
        return {"client_secret": "conformance-wrong-secret"}

    def expected_profile(self, user: str) -> Mapping[str, Any]:
        """Profile fields (`display_name`, `email`, ...) the provider must report for `user`."""
        return {}

    def change_email(self, user: str, email: str) -> bool:
        """Change the person's email at the IdP; False when the IdP cannot."""
        return False


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class ProviderConformance:
    """The suite. Subclass it as `Test<Name>Conformance` and provide the `adapter` fixture."""

    provider_id: ClassVar[str] = PROVIDER_ID

    # --- fixtures ---------------------------------------------------------------------------

    @pytest.fixture
    def adapter(self) -> ConformanceAdapter:
        raise NotImplementedError("override the `adapter` fixture in your conformance test class")

    @pytest.fixture
    def build(self, adapter: ConformanceAdapter) -> Any:
        """build(**overrides) -> a provider instance, made the way the hub's registry makes it."""

        def make(**overrides: Any) -> ProviderType:
            table = {**adapter.provider_table(REDIRECT_URI), **overrides}
            cls = next(c for c in adapter.plugin.hub_provider_types() if c.type_name == table["type"])
            settings = {k: v for k, v in table.items() if k not in CORE_KEYS}
            http = ProviderSession(timeout=(2.0, READ_TIMEOUT), sleep=lambda _s: None)
            return cls(self.provider_id, "Conformance", settings, ProviderContext(REDIRECT_URI, http))

        return make

    @pytest.fixture
    def provider(self, build: Any) -> ProviderType:
        return build()

    @pytest.fixture
    def hub(self, adapter: ConformanceAdapter, tmp_path: Path) -> Iterator[Flask]:
        table = {**adapter.provider_table(REDIRECT_URI), "name": "Conformance", "redirect_uri": REDIRECT_URI}
        app = hub_app(tmp_path / "hub", {self.provider_id: table}, [(adapter.plugin_name, adapter.plugin)])
        yield app
        app.extensions["hub"].close()

    # --- helpers ----------------------------------------------------------------------------

    def sign_in(self, adapter: ConformanceAdapter, provider: ProviderType, user: str, **tamper: str) -> SignInResult:
        """A whole provider-level sign-in; `tamper` may replace `nonce` or `code_verifier`."""
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(16)
        url = provider.authorization_url(AuthorizationRequest(secrets.token_urlsafe(16), nonce, challenge))
        params = adapter.approve(url, user)
        return provider.complete_sign_in(
            Callback(params, tamper.get("code_verifier", verifier), tamper.get("nonce", nonce))
        )

    def require(self, adapter: ConformanceAdapter, kind: str) -> None:
        if not adapter.misbehave(kind):
            pytest.skip(f"the adapter cannot provoke {kind}")

    # --- the authorization request (C01, B03) -----------------------------------------------

    def test_authorization_request_carries_state_pkce_s256_and_the_redirect_uri(
        self, adapter: ConformanceAdapter, provider: ProviderType
    ) -> None:
        _, challenge = pkce_pair()
        query = query_of(provider.authorization_url(AuthorizationRequest("state-123", "nonce-456", challenge)))
        assert query["state"] == "state-123"
        assert query["code_challenge"] == challenge and query["code_challenge_method"] == "S256"
        assert query["redirect_uri"] == REDIRECT_URI
        assert query.get("response_type", "code") == "code"
        if adapter.has_id_token:
            assert query["nonce"] == "nonce-456" and "openid" in query["scope"].split()

    def test_a_wrong_pkce_verifier_is_refused(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        with pytest.raises(SignInError):
            self.sign_in(adapter, provider, adapter.users[0], code_verifier="x" * 43)

    # --- identity and profile (C01, C12, G01) -----------------------------------------------

    def test_sign_in_maps_subject_and_profile(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        result = self.sign_in(adapter, provider, adapter.users[0])
        assert result.identity.subject and result.identity.issuer
        for name, value in adapter.expected_profile(adapter.users[0]).items():
            assert getattr(result.profile, name) == value, name
        assert result.tokens.access_token and "access_token=" not in repr(result.tokens)

    def test_the_subject_is_stable_per_person_and_distinct_between_people(
        self, adapter: ConformanceAdapter, provider: ProviderType
    ) -> None:
        first = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        again = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        other = self.sign_in(adapter, provider, adapter.users[1]).identity.subject
        assert first == again and first != other

    def test_an_email_change_keeps_the_subject(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        before = self.sign_in(adapter, provider, adapter.users[0])
        if not adapter.change_email(adapter.users[0], "changed.address@example.test"):
            pytest.skip("the adapter cannot change a person's email")
        after = self.sign_in(adapter, provider, adapter.users[0])
        assert after.identity.subject == before.identity.subject
        assert after.profile.email in (None, "changed.address@example.test")

    # --- ID token rules (C02, C04, C11) -----------------------------------------------------

    def test_the_nonce_is_enforced(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        if not adapter.has_id_token:
            pytest.skip("no ID token, so no nonce in this protocol")
        with pytest.raises(TokenRejected):
            self.sign_in(adapter, provider, adapter.users[0], nonce="not-the-nonce-sent")
        self.require(adapter, "wrong_nonce")
        with pytest.raises(TokenRejected):
            self.sign_in(adapter, provider, adapter.users[0])

    @pytest.mark.parametrize("kind", ["wrong_issuer", "wrong_audience"])
    def test_issuer_and_audience_are_validated(self, adapter: ConformanceAdapter, provider: ProviderType, kind: str) -> None:
        if not adapter.has_id_token:
            pytest.skip("no ID token in this protocol")
        self.require(adapter, kind)
        with pytest.raises(TokenRejected):
            self.sign_in(adapter, provider, adapter.users[0])

    # --- error mapping (R01, E08, G03) ------------------------------------------------------

    @pytest.mark.parametrize("kind", ["server_error", "timeout"])
    def test_outages_and_timeouts_are_provider_unavailable(
        self, adapter: ConformanceAdapter, provider: ProviderType, kind: str
    ) -> None:
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(8)
        params = adapter.approve(provider.authorization_url(AuthorizationRequest("s", nonce, challenge)), adapter.users[0])
        self.require(adapter, kind)
        with pytest.raises(ProviderUnavailable):
            provider.complete_sign_in(Callback(params, verifier, nonce))

    def test_rejected_client_credentials_are_misconfiguration_without_the_secret(
        self, adapter: ConformanceAdapter, build: Any
    ) -> None:
        overrides = adapter.bad_client_settings()
        with pytest.raises(ProviderMisconfigured) as caught:
            self.sign_in(adapter, build(**overrides), adapter.users[0])
        for value in overrides.values():
            assert str(value) not in str(caught.value)

    # --- refresh (C17, R09, R10) ------------------------------------------------------------

    def test_an_unknown_refresh_token_is_refresh_rejected(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        result = self.sign_in(adapter, provider, adapter.users[0])
        previous = Identity(result.identity.subject, result.identity.issuer, result.identity.tenant)
        with pytest.raises(RefreshRejected):
            provider.refresh("conformance-unknown-refresh-token", previous)

    def test_refresh_rotates_and_names_the_same_person(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        result = self.sign_in(adapter, provider, adapter.users[0])
        if not result.tokens.refresh_token:
            pytest.skip("the IdP issued no refresh token")
        previous = Identity(result.identity.subject, result.identity.issuer, result.identity.tenant)
        refreshed = provider.refresh(result.tokens.refresh_token, previous)
        assert refreshed.tokens.access_token and refreshed.tokens.refresh_token
        if adapter.issues_new_refresh_token:
            assert refreshed.tokens.refresh_token != result.tokens.refresh_token
        if refreshed.identity is not None:
            assert refreshed.identity.subject == result.identity.subject
        if adapter.single_use_refresh_tokens:
            with pytest.raises(RefreshRejected):
                provider.refresh(result.tokens.refresh_token, previous)

    def test_fifty_concurrent_refreshes_make_one_provider_call(self, adapter: ConformanceAdapter, hub: Flask) -> None:
        account_id = self.hub_sign_in(adapter, hub, adapter.users[0])
        rt = hub.extensions["hub"]
        with rt.db.session() as session, session.begin():
            session.execute(update(TokenSet).where(TokenSet.linked_account_id == account_id).values(access_expires_at=utcnow()))
        before = adapter.token_calls()
        barrier = threading.Barrier(50)

        def caller(_: int) -> str:
            barrier.wait()
            return rt.vault.access_token(rt.db, account_id, rt.providers, rt.audit).value

        with ThreadPoolExecutor(max_workers=50) as pool:
            values = list(pool.map(caller, range(50)))
        assert adapter.token_calls() - before == 1
        assert len(set(values)) == 1

    # --- the hub around the provider (B01, R07) ---------------------------------------------

    def hub_sign_in(self, adapter: ConformanceAdapter, hub: Flask, user: str) -> int:
        """Sign in through the hub's routes; returns the linked account's id."""
        client = hub.test_client()
        params = adapter.approve(start_sign_in(client, self.provider_id), user)
        response = client.get(callback_path(self.provider_id, params))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        with hub.extensions["hub"].db.session() as session:
            return session.scalars(select(LinkedAccount.id).order_by(LinkedAccount.id.desc())).first()

    def test_the_hub_enforces_state_and_redeems_a_code_once(self, adapter: ConformanceAdapter, hub: Flask) -> None:
        client = hub.test_client()
        params = adapter.approve(start_sign_in(client, self.provider_id), adapter.users[0])
        before = adapter.token_calls()
        tampered = client.get(callback_path(self.provider_id, {**params, "state": "forged-state"}))
        assert tampered.status_code == 400 and adapter.token_calls() == before
        assert client.get(callback_path(self.provider_id, params)).status_code == 302
        replay = client.get(callback_path(self.provider_id, params))
        assert replay.status_code == 400 and adapter.token_calls() == before + 1


__all__ = ["MISBEHAVIOURS", "REDIRECT_URI", "ConformanceAdapter", "ProviderConformance", "pkce_pair"]
