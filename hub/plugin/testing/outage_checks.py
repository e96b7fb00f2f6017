"""The conformance checks of a provider's answer to a broken IdP: HTML, 5xx, broken or empty JSON
and slow answers at the token, profile and revocation endpoints are `ProviderUnavailable`, and a
failing revocation is reported as a failure, never as done. `ProviderConformance` inherits them."""

from __future__ import annotations

import secrets

import pytest

from hub.errors import HubError, ProviderUnavailable
from hub.plugin.testing import generic_fake as generic
from hub.plugin.testing.adapters import PROFILE_MISBEHAVIOURS, ConformanceAdapter
from hub.plugin.testing.provider_checks import expect, no_secret_in, pkce_pair
from hub.plugin.testing.unchecked import not_checked
from hub.provider import AuthorizationRequest, Callback, ProviderType

REVOCATION_FAILURES = ("server_error", "timeout")
"""How the revocation endpoint fails in the revocation check (RFC 7009 answers 200 on success)."""


class OutageChecks:
    """Outages at every endpoint the provider calls; they use the `adapter` and `provider`
    fixtures of `ProviderConformance`."""

    @pytest.mark.parametrize("kind", PROFILE_MISBEHAVIOURS)
    def test_token_endpoint_answers_that_are_not_json_are_provider_unavailable(
        self, adapter: ConformanceAdapter, provider: ProviderType, kind: str
    ) -> None:
        verifier, challenge = pkce_pair()
        nonce = secrets.token_urlsafe(8)
        params = adapter.approve(provider.authorization_url(AuthorizationRequest("s", nonce, challenge)), adapter.users[0])
        if not generic.misbehave_at(adapter, "token", kind):
            not_checked(adapter, "misbehave_at", f"adapter.misbehave_at('token', {kind!r}) returned False")
        expect(
            ProviderUnavailable,
            lambda: provider.complete_sign_in(Callback(params, verifier, nonce)),
            f"the token endpoint's {kind} was not handled as an outage (check the status, use context.http "
            f"for its timeouts, read the body with hub.oidc.read_json, never response.json())",
        )

    @pytest.mark.parametrize("kind", REVOCATION_FAILURES)
    def test_a_failing_revocation_is_a_failure(self, adapter: ConformanceAdapter, provider: ProviderType, kind: str) -> None:
        if type(provider).revoke is ProviderType.revoke:
            pytest.skip("the provider type does not revoke tokens")
        tokens = self.sign_in(adapter, provider, adapter.users[0]).tokens  # type: ignore[attr-defined]
        before = generic.revocation_calls(adapter)
        if not generic.misbehave_at(adapter, "revoke", kind):
            if before is not None:
                provider.revoke(tokens)
                if generic.revocation_calls(adapter) == before:
                    pytest.skip("the provider makes no revocation call at this IdP")
            not_checked(adapter, "misbehave_at", f"adapter.misbehave_at('revoke', {kind!r}) returned False")
        try:
            provider.revoke(tokens)
        except HubError as error:
            no_secret_in(error)
            assert isinstance(error, ProviderUnavailable), (
                f"a revocation endpoint's {kind} should be ProviderUnavailable, not {type(error).__name__}"
            )
            return
        after = generic.revocation_calls(adapter)
        if before is None or after is None:
            not_checked(adapter, "revocation_calls", "adapter.revocation_calls() is None: a silent revocation")
        assert after == before, (
            f"the revocation endpoint answered {kind}, yet revoke() returned as if the tokens were revoked: "
            f"raise ProviderUnavailable (check the status; RFC 7009 answers 200)"
        )


__all__ = ["REVOCATION_FAILURES", "OutageChecks"]
