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
is skipped, never silently passed: the skip names the adapter member that would enable it.

A plugin tested against `hub.testing.authserver.FakeAuthorizationServer` subclasses
`FakeServerAdapter` instead and writes only `provider_table`: every check is then enabled.

What the adapter must provide, and what it may (each optional member enables checks):

| member | needed for |
| --- | --- |
| `plugin`, `plugin_name`, `users` (two people), `provider_table`, `approve`, `token_calls` | every check |
| `has_id_token`, `issues_new_refresh_token`, `single_use_refresh_tokens` | which protocol checks apply |
| `misbehave(kind)` for `MISBEHAVIOURS` | nonce/issuer/audience enforcement, token-endpoint outages and timeouts |
| `misbehave_at("profile", kind)` for `PROFILE_MISBEHAVIOURS` | profile-endpoint outages, timeouts and HTML answers |
| `bad_client_settings()` | rejected client credentials |
| `secret_settings` | secrets never in settings errors |
| `expected_profile(user)` | profile mapping |
| `change_email`, `rename`, `unverify_email`, `refuse_account` | the subject survives an email change and a rename; honest `email_verified`; a refused account state |
| `deny(authorization_url, user)` | an `error=` answer from the real IdP (without it the kit builds one) |

Timing: the kit's providers give up reading after `READ_TIMEOUT` (0.5 s), so a `timeout`
misbehaviour must make the IdP wait longer than that (about a second).
"""

from __future__ import annotations

import abc
import base64
import hashlib
import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from flask import Flask
from sqlalchemy import select, update

from hub.core.models import LinkedAccount, TokenSet, utcnow
from hub.errors import (
    AccessDenied,
    ConfigError,
    HubError,
    ProviderDenied,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    SignInError,
    TokenRejected,
)
from hub.http import ProviderSession
from hub.provider import AuthorizationRequest, Callback, Identity, ProviderContext, ProviderType, SignInResult
from hub.testing.app import BASE_URL, callback_path, hub_app, query_of, start_sign_in
from hub.testing.authserver import FakeAuthorizationServer
from hub.upstream.registry import CORE_KEYS

PROVIDER_ID = "conformance"
REDIRECT_URI = f"{BASE_URL}/auth/{PROVIDER_ID}/callback"
READ_TIMEOUT = 0.5
"""The kit's providers give up after this long, so a `timeout` misbehaviour of about a
second proves the timeout without slowing the suite."""
MISBEHAVIOURS = ("wrong_nonce", "wrong_issuer", "wrong_audience", "server_error", "timeout")
"""What `ConformanceAdapter.misbehave` is asked for; each applies to the next token-endpoint
answer (the ID token in it, for the first three)."""
PROFILE_MISBEHAVIOURS = ("server_error", "timeout", "html")
"""What `ConformanceAdapter.misbehave_at("profile", kind)` is asked for: a 5xx with an HTML
body, an answer slower than `READ_TIMEOUT`, a 200 with an HTML page instead of JSON."""


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

    # --- optional: each enables checks of the 2026 review (issue 10) ----------------------

    fetches_profile: bool = True
    """The provider calls a profile endpoint (userinfo, /user) at sign-in."""
    secret_settings: tuple[str, ...] = ("client_secret",)
    """Settings whose values are secrets: no settings error may show them."""

    def misbehave_at(self, endpoint: str, kind: str) -> bool:
        """Make the IdP's next answer at `endpoint` (`profile`) misbehave as `kind`
        (`PROFILE_MISBEHAVIOURS`); False when unsupported."""
        return False

    def rename(self, user: str, username: str) -> bool:
        """Change the person's login name (username, handle) at the IdP; False when it cannot."""
        return False

    def unverify_email(self, user: str) -> bool:
        """Make the IdP report the person's email as not verified; False when it cannot."""
        return False

    def refuse_account(self, user: str) -> bool:
        """Put the person's account in a state the provider must refuse (blocked, suspended,
        locked), as the IdP reports it; False when the IdP has no such state."""
        return False

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        """Make the IdP answer this authorization request with `error=access_denied`; the
        callback's query, or None when the adapter cannot (the kit then builds one)."""
        return None


class FakeServerAdapter(ConformanceAdapter):
    """An adapter for a plugin tested against `FakeAuthorizationServer`: every optional check
    is enabled. Set `plugin` and `plugin_name` and write `provider_table`:

        class GitLabAdapter(FakeServerAdapter):
            plugin, plugin_name = hub_gitlab, "gitlab"

            def provider_table(self, redirect_uri):
                return {"type": "gitlab", "base_url": self.server.url,
                        "client_id": self.server.client_id, "client_secret": self.server.client_secret}
    """

    users = ("alice", "bob")

    def __init__(self, server: FakeAuthorizationServer) -> None:
        self.server = server
        self.has_id_token = server.openid
        self.issues_new_refresh_token = server.rotate_refresh_tokens
        self.single_use_refresh_tokens = server.rotate_refresh_tokens

    def approve(self, authorization_url: str, user: str) -> dict[str, str]:
        return self.server.approve(authorization_url, user)

    def token_calls(self) -> int:
        return self.server.token_calls

    def misbehave(self, kind: str) -> bool:
        if kind not in MISBEHAVIOURS:
            return False
        self.server.misbehave("token", kind)
        return True

    def misbehave_at(self, endpoint: str, kind: str) -> bool:
        self.server.misbehave(endpoint, kind)
        return True

    def expected_profile(self, user: str) -> Mapping[str, Any]:
        person = self.server.person(user)
        return {"display_name": person.name, "email": person.email}

    def change_email(self, user: str, email: str) -> bool:
        self.server.change_email(user, email)
        return True

    def rename(self, user: str, username: str) -> bool:
        self.server.rename(user, username)
        return True

    def unverify_email(self, user: str) -> bool:
        self.server.change_email(user, self.server.person(user).email, verified=False)
        return True

    def refuse_account(self, user: str) -> bool:
        self.server.block(user)
        return True

    def deny(self, authorization_url: str, user: str) -> dict[str, str] | None:
        self.server.deny_next()
        return self.server.approve(authorization_url, user)


def build_provider(adapter: ConformanceAdapter, provider_id: str = PROVIDER_ID, **overrides: Any) -> ProviderType:
    """A provider instance made the way the hub's registry makes it, with the kit's short
    read timeout; `overrides` replace settings of the adapter's table."""
    table = {**adapter.provider_table(REDIRECT_URI), **overrides}
    cls = next(c for c in adapter.plugin.hub_provider_types() if c.type_name == table["type"])
    settings = {k: v for k, v in table.items() if k not in CORE_KEYS}
    http = ProviderSession(timeout=(2.0, READ_TIMEOUT), sleep=lambda _s: None)
    return cls(provider_id, "Conformance", settings, ProviderContext(REDIRECT_URI, http))


def expect(error: type[HubError], action: Callable[[], Any], mistake: str) -> HubError:
    """Run `action`, which must raise `error`; otherwise fail naming the likely mistake."""
    try:
        action()
    except error as caught:
        return caught
    except Exception as other:  # the kit reports what the provider raised instead
        pytest.fail(f"{mistake}: expected {error.__name__}, but {type(other).__name__} was raised: {other}")
    pytest.fail(f"{mistake}: expected {error.__name__}, but the call succeeded")


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
        """Override: yield your ConformanceAdapter, its IdP running for the test."""
        raise NotImplementedError("override the `adapter` fixture in your conformance test class")

    @pytest.fixture
    def build(self, adapter: ConformanceAdapter) -> Any:
        """build(**overrides) -> a provider instance, made the way the hub's registry makes it."""

        def make(**overrides: Any) -> ProviderType:
            return build_provider(adapter, self.provider_id, **overrides)

        return make

    @pytest.fixture
    def provider(self, build: Any) -> ProviderType:
        """A provider built from the adapter's table as it is."""
        return build()

    @pytest.fixture
    def hub(self, adapter: ConformanceAdapter, tmp_path: Path) -> Iterator[Flask]:
        """A throwaway hub (hub.testing.app.hub_app) with the provider configured as `conformance`."""
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

    # --- issue 10: mistakes an outsider made that the kit used to miss ---------------------

    def test_the_subject_is_a_non_empty_string(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        subject = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        assert isinstance(subject, str) and subject, (
            f"Identity.subject must be a non-empty str (the provider's immutable id as text), "
            f"got {type(subject).__name__} {subject!r}: convert a numeric id with str()"
        )

    def test_a_new_username_keeps_the_subject(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        before = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        if not adapter.rename(adapter.users[0], "renamed-conformance-user"):
            pytest.skip("adapter.rename returned False: the kit cannot check that a username is not the subject")
        after = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        assert after == before, (
            "the subject changed when the person's username changed: use the provider's immutable "
            "id (OIDC sub, a numeric user id), never a login name, as Identity.subject"
        )

    def test_a_refused_account_state_is_access_denied(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        subject = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        if not adapter.refuse_account(adapter.users[0]):
            pytest.skip("adapter.refuse_account returned False: the kit cannot check that a blocked account is refused")
        refused = expect(
            AccessDenied,
            lambda: self.sign_in(adapter, provider, adapter.users[0]),
            "an account the IdP reports as blocked or suspended was signed in",
        )
        named = getattr(refused, "subject", None)
        assert named in (None, subject), f"the refusal names subject {named!r}, not the account's {subject!r}"

    def test_an_unverified_email_is_reported_unverified(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        if not adapter.unverify_email(adapter.users[0]):
            pytest.skip("adapter.unverify_email returned False: the kit cannot check email_verified")
        profile = self.sign_in(adapter, provider, adapter.users[0]).profile
        assert profile.email_verified is False, (
            "Profile.email_verified is True for an address the IdP says is not verified: "
            "set it only from the IdP's own verified flag"
        )

    @pytest.mark.parametrize("kind", PROFILE_MISBEHAVIOURS)
    def test_profile_endpoint_outages_are_provider_unavailable(
        self, adapter: ConformanceAdapter, provider: ProviderType, kind: str
    ) -> None:
        if not adapter.fetches_profile:
            pytest.skip("adapter.fetches_profile is False: the provider calls no profile endpoint")
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(8)
        params = adapter.approve(provider.authorization_url(AuthorizationRequest("s", nonce, challenge)), adapter.users[0])
        if not adapter.misbehave_at("profile", kind):
            pytest.skip(f"adapter.misbehave_at('profile', {kind!r}) returned False")
        expect(
            ProviderUnavailable,
            lambda: provider.complete_sign_in(Callback(params, verifier, nonce)),
            f"the profile endpoint's {kind} was not handled as an outage (check the status, use "
            f"context.http for its timeouts, read the body with hub.oidc.read_json)",
        )

    def test_settings_errors_never_show_a_secret(self, adapter: ConformanceAdapter, build: Any) -> None:
        table = adapter.provider_table(REDIRECT_URI)
        secrets_in_table = [str(table[name]) for name in adapter.secret_settings if table.get(name)]
        if not secrets_in_table:
            pytest.skip("adapter.secret_settings names no setting of the provider table")
        errors: list[ConfigError] = []
        for name in [k for k in table if k not in CORE_KEYS and k not in adapter.secret_settings]:
            for broken in (None, ["not", "a", "valid", "value"]):
                try:
                    build(**{name: broken})
                except ConfigError as error:
                    errors.append(error)
        if not errors:
            pytest.skip("no setting of the table is required or checked, so no settings error to inspect")
        for error in errors:
            for secret in secrets_in_table:
                assert secret not in str(error) and secret not in repr(error.args), (
                    f"a settings error shows the value of a secret setting: {error}"
                )

    def test_an_error_callback_is_refused_without_a_token_call(
        self, adapter: ConformanceAdapter, provider: ProviderType
    ) -> None:
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        url = provider.authorization_url(AuthorizationRequest(state, nonce, challenge))
        params = adapter.deny(url, adapter.users[0])
        expected: type[HubError] = ProviderDenied
        if params is None:  # built by the kit: without the IdP's `iss`, a strict provider may refuse it otherwise
            params, expected = {"error": "access_denied", "error_description": "The user declined.", "state": state}, SignInError
        before = adapter.token_calls()
        expect(
            expected,
            lambda: provider.complete_sign_in(Callback(params, verifier, nonce)),
            "an error= answer from the authorization endpoint was not refused",
        )
        assert adapter.token_calls() == before, "the provider called the token endpoint after an error= answer"

    def test_building_a_provider_does_no_network_io(
        self, adapter: ConformanceAdapter, build: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        attempts: list[Any] = []

        def refuse(sock: socket.socket, address: Any) -> None:
            attempts.append(address)
            raise OSError("the conformance kit allows no network I/O while a provider is built")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket.socket, "connect_ex", refuse)
        try:
            build()
        except Exception as error:  # a provider that needs the network to start fails this check too
            assert not attempts, f"the provider connected to {attempts} while being built, and failed: {error}"
            raise
        finally:
            monkeypatch.undo()
        assert not attempts, (
            f"the provider connected to {attempts} in __init__: fetch discovery or keys lazily, "
            f"on first use, so the hub starts while the IdP is down"
        )

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


__all__ = [
    "MISBEHAVIOURS",
    "PROFILE_MISBEHAVIOURS",
    "READ_TIMEOUT",
    "REDIRECT_URI",
    "ConformanceAdapter",
    "FakeServerAdapter",
    "ProviderConformance",
    "build_provider",
    "expect",
    "pkce_pair",
]
