"""The conformance checks at the provider level: a provider instance against its IdP, without a
hub (authorization request, identity and profile, ID-token rules, error mapping, refresh, and
the mistakes of issue 10). `ProviderConformance` inherits them; see `hub.testing.conformance`."""

from __future__ import annotations

import base64
import hashlib
import inspect
import secrets
import socket
from collections.abc import Callable
from typing import Any

import pytest

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
from hub.plugin.testing import generic_fake as generic
from hub.plugin.testing.adapters import (
    PROFILE_MISBEHAVIOURS,
    PROVIDER_ID,
    READ_TIMEOUT,
    REDIRECT_URI,
    ConformanceAdapter,
)
from hub.plugin.testing.app import query_of
from hub.plugin.testing.unchecked import not_checked, note_not_checked
from hub.plugin.testing.watch import current, saw
from hub.provider import AuthorizationRequest, Callback, Identity, ProviderContext, ProviderType, SignInResult
from hub.upstream.registry import CORE_KEYS


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
        no_secret_in(caught)
        return caught
    except Exception as other:  # the kit reports what the provider raised instead
        pytest.fail(f"{mistake}: expected {error.__name__}, but {type(other).__name__} was raised: {other}")
    pytest.fail(f"{mistake}: expected {error.__name__}, but the call succeeded")


def no_secret_in(error: BaseException) -> None:
    """Fail when an error the provider raised shows a secret the kit has seen in this check."""
    watch = current()
    leaks = watch.error_leaks(error) if watch is not None else []
    assert not leaks, f"an error the provider raised shows {', '.join(leaks)}: {type(error).__name__}"


def refuse_account(adapter: ConformanceAdapter, user: str, state: str | None) -> bool:
    """`adapter.refuse_account(user, state)`, also for adapters written before states were a list
    (`refuse_account(self, user)`)."""
    if state is None:
        return adapter.refuse_account(user)
    try:
        inspect.signature(adapter.refuse_account).bind(user, state)
    except TypeError:
        return False
    return adapter.refuse_account(user, state)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


BROKEN_VALUES: tuple[Any, ...] = (None, ["not", "a", "valid", "value"], "", "not a valid value", -1, {"not": "valid"})
"""What the settings check puts in each setting, one at a time."""


def declared_settings(adapter: ConformanceAdapter, build: Callable[..., Any], table: dict[str, Any]) -> set[str]:
    """Every setting the provider type declares: the adapter's table, the type's
    `known_settings` when it has one, and the list an unknown-setting error names."""
    cls = next(c for c in adapter.plugin.hub_provider_types() if c.type_name == table["type"])
    names = set(table) | set(getattr(cls, "known_settings", ()))
    try:
        build(conformance_unknown_setting="x")
    except ConfigError as error:
        listed = str(error).partition("known:")[2].strip(" .)")
        names |= {name.strip() for name in listed.split(",") if name.strip().isidentifier()}
    return names


class ProviderChecks:
    """The provider-level checks; they use the `adapter`, `provider` and `build` fixtures of
    `ProviderConformance`."""

    # --- helpers ----------------------------------------------------------------------------

    def sign_in(self, adapter: ConformanceAdapter, provider: ProviderType, user: str, **tamper: str) -> SignInResult:
        """A whole provider-level sign-in; `tamper` may replace `nonce` or `code_verifier`."""
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(16)
        url = provider.authorization_url(AuthorizationRequest(secrets.token_urlsafe(16), nonce, challenge))
        params = adapter.approve(url, user)
        saw("an authorization code", params.get("code"), verifier)
        try:
            result = provider.complete_sign_in(
                Callback(params, tamper.get("code_verifier", verifier), tamper.get("nonce", nonce))
            )
        except Exception as error:
            no_secret_in(error)
            raise
        tokens = result.tokens
        saw("an access token", tokens.access_token)
        saw("a refresh token", tokens.refresh_token)
        saw("an ID token", getattr(tokens, "id_token", None))
        return result

    def require(self, adapter: ConformanceAdapter, kind: str) -> None:
        if not generic.misbehave(adapter, kind):
            not_checked(adapter, "misbehave", f"adapter.misbehave({kind!r}) returned False")

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
        expected = adapter.expected_profile(adapter.users[0])
        if not expected and note_not_checked(adapter, "expected_profile"):
            pytest.fail("strict mode: adapter.expected_profile is empty, so the profile mapping is not checked")
        for name, value in expected.items():
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
            not_checked(adapter, "change_email", "adapter.change_email returned False")
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
            not_checked(adapter, "rename", "adapter.rename returned False: a username used as the subject")
        after = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        assert after == before, (
            "the subject changed when the person's username changed: use the provider's immutable "
            "id (OIDC sub, a numeric user id), never a login name, as Identity.subject"
        )

    def test_a_refused_account_state_is_access_denied(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        subject = self.sign_in(adapter, provider, adapter.users[0]).identity.subject
        states: tuple[str | None, ...] = (None,) if adapter.account_states is None else tuple(adapter.account_states)
        if not states:
            pytest.skip("adapter.account_states is (): the IdP has no state that blocks a user")
        for state in states:
            if not refuse_account(adapter, adapter.users[0], state):
                not_checked(adapter, "refuse_account", f"adapter.refuse_account(user, {state!r}) returned False")
            refused = expect(
                AccessDenied,
                lambda: self.sign_in(adapter, provider, adapter.users[0]),
                f"an account the IdP reports as {state or 'blocked'} was signed in",
            )
            named = getattr(refused, "subject", None)
            assert named in (None, subject), f"the refusal names subject {named!r}, not the account's {subject!r}"
        if adapter.account_states is None and note_not_checked(adapter, "account_states"):
            pytest.fail("strict mode: adapter.account_states is not declared: list every state that blocks a user")

    def test_an_unverified_email_is_reported_unverified(self, adapter: ConformanceAdapter, provider: ProviderType) -> None:
        if not adapter.unverify_email(adapter.users[0]):
            not_checked(adapter, "unverify_email", "adapter.unverify_email returned False: email_verified")
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
        if not generic.misbehave_at(adapter, "profile", kind):
            not_checked(adapter, "misbehave_at", f"adapter.misbehave_at('profile', {kind!r}) returned False")
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
            not_checked(adapter, "secret_settings", "adapter.secret_settings names no setting of the provider table")
        errors: list[Exception] = []
        for name in sorted(declared_settings(adapter, build, table) - CORE_KEYS):
            for broken in BROKEN_VALUES:
                try:
                    build(**{name: broken})
                except Exception as error:  # a non-ConfigError must not show the secret either
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
            if note_not_checked(adapter, "deny"):
                pytest.fail("strict mode: adapter.deny returned None, so the IdP's own error= answer is not checked")
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


__all__ = ["ProviderChecks", "build_provider", "expect", "pkce_pair"]
