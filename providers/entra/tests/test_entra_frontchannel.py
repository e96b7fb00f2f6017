"""Entra front-channel logout: the `sid`-only GET, the optional `iss`, the framing origin, and
the `sid` the sign-in stored to match it."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import SignInError, TokenRejected
from hub.oidc import check_callback_issuer
from hub_entra.emulator import EntraEmulator
from hub_entra.testing import HOST, OTHER_TENANT, TENANT, FakeEntra, emulator_provider, sign_in


def test_the_sid_is_returned_as_entra_sends_it(make_provider: Any) -> None:
    assert make_provider().frontchannel_logout({"sid": "00a1b2c3-d4e5"}) == "00a1b2c3-d4e5"


def test_a_request_without_sid_is_refused(make_provider: Any) -> None:
    with pytest.raises(SignInError) as caught:
        make_provider().frontchannel_logout({})
    assert caught.value.code == "logout_request_invalid"


def test_an_iss_must_be_the_configured_tenant(make_provider: Any) -> None:
    provider = make_provider()
    assert provider.frontchannel_logout({"sid": "s", "iss": f"{HOST}/{TENANT}/v2.0"}) == "s"
    for issuer in (f"{HOST}/{OTHER_TENANT}/v2.0", "https://evil.example/x/v2.0", f"https://sts.windows.net/{TENANT}/"):
        with pytest.raises(SignInError):
            provider.frontchannel_logout({"sid": "s", "iss": issuer})


def test_multi_tenant_accepts_only_allowed_tenants(make_provider: Any) -> None:
    provider = make_provider(tenant="organizations", allowed_tenants=[TENANT])
    assert provider.frontchannel_logout({"sid": "s", "iss": f"{HOST}/{TENANT}/v2.0"}) == "s"
    with pytest.raises(SignInError):
        provider.frontchannel_logout({"sid": "s", "iss": f"{HOST}/{OTHER_TENANT}/v2.0"})


def test_a_domain_named_tenant_serves_only_its_own_tenants_issuer(make_provider: Any, rsps: Any, clock: Any) -> None:
    """Used for front-channel logout and for the core's RFC 9207 check of callbacks."""
    domain = FakeEntra(rsps, clock, tenant="contoso.onmicrosoft.com")
    domain.discovery_issuer = f"{HOST}/{TENANT}/v2.0"
    provider = make_provider(tenant="contoso.onmicrosoft.com")
    check_callback_issuer(provider, {"code": "c", "iss": f"{HOST}/{TENANT}/v2.0"})
    with pytest.raises(TokenRejected):
        check_callback_issuer(provider, {"code": "c", "iss": f"{HOST}/{OTHER_TENANT}/v2.0"})
    with pytest.raises(SignInError):
        provider.frontchannel_logout({"sid": "s", "iss": f"{HOST}/{OTHER_TENANT}/v2.0"})


def test_only_the_authority_origin_may_frame_the_page(make_provider: Any) -> None:
    assert make_provider().frontchannel_origins == (HOST,)
    assert make_provider(authority_host="https://login.microsoftonline.us").frontchannel_origins == (
        "https://login.microsoftonline.us",
    )


def test_the_signed_in_identity_carries_the_emulators_sid(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = "alice@contoso.example"
    result = sign_in(emulator_provider(emulator))
    assert result.identity.session_id
    assert emulator_provider(emulator).frontchannel_logout({"sid": result.identity.session_id}) == result.identity.session_id
