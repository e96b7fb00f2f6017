"""EntraProvider against Entra and Graph mocked at the HTTP layer: Entra's own rules."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hub.errors import (
    AccessDenied,
    ProviderDenied,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    SignInError,
    TokenRejected,
)
from hub.provider import AuthorizationRequest, Identity
from hub_entra.testing import (
    _KEY_POOL,
    ACCESS_TOKEN,
    CLIENT_ID,
    CODE,
    NEW_REFRESH_TOKEN,
    OID,
    OTHER_TENANT,
    REDIRECT_URI,
    REFRESH_TOKEN,
    SECRET,
    TENANT,
    VERIFIER,
    Clock,
    FakeEntra,
    callback,
)

SUBJECT = f"{TENANT}:{OID}"


def previous_identity(entra: FakeEntra) -> Identity:
    return Identity(subject=SUBJECT, issuer=f"{entra.host}/{TENANT}/v2.0", tenant=TENANT)


# --- authorization request ------------------------------------------------------------------


def test_authorization_url_carries_every_required_parameter(entra: FakeEntra, make_provider: Any) -> None:
    provider = make_provider()
    url = provider.authorization_url(
        AuthorizationRequest(state="st-1", nonce="no-1", code_challenge="ch-1", prompt="select_account")
    )
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{entra.authority}/oauth2/v2.0/authorize"
    assert query == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile offline_access User.Read",
        "state": "st-1",
        "nonce": "no-1",
        "code_challenge": "ch-1",
        "code_challenge_method": "S256",
        "prompt": "select_account",
        "response_mode": "query",
    }


def test_extra_scopes_are_requested(entra: FakeEntra, make_provider: Any) -> None:
    provider = make_provider(scopes=["Calendars.Read", "User.Read"])
    assert provider.requested_scopes == (
        "openid",
        "profile",
        "offline_access",
        "User.Read",
        "Calendars.Read",
    )


def test_constructing_a_provider_does_no_network_io(entra: FakeEntra, make_provider: Any) -> None:
    make_provider()
    assert len(entra.rsps.calls) == 0


# --- sign-in --------------------------------------------------------------------------------


def test_sign_in_happy_path(entra: FakeEntra, make_provider: Any, clock: Clock) -> None:
    entra.token_body = entra.token_response(entra.id_token(roles=["Hub.Admin", "Hub.Other"]))
    result = make_provider().complete_sign_in(callback())
    assert result.identity.subject == SUBJECT
    assert result.identity.issuer == f"{entra.host}/{TENANT}/v2.0"
    assert result.identity.tenant == TENANT
    assert result.identity.roles == frozenset({"admin"})
    assert result.identity.session_id == "00a1b2c3-d4e5-f607-1829-3a4b5c6d7e8f"
    assert result.profile.display_name == "Ada Example"
    assert result.profile.email == "ada@contoso.example"
    assert result.profile.email_verified is False
    assert result.tokens.refresh_token == NEW_REFRESH_TOKEN
    assert result.tokens.expires_at is not None
    assert result.tokens.expires_at.timestamp() == clock() + 3599
    graph_request = entra.calls_to(entra.me_url)[0].request
    assert graph_request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    select = parse_qs(urlsplit(graph_request.url).query)["$select"][0]
    assert select == "id,displayName,mail,userPrincipalName,givenName,surname,jobTitle"
    token_request = entra.calls_to(entra.token_url)[0].request
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert SECRET not in token_request.body


def test_email_falls_back_to_the_upn(entra: FakeEntra, make_provider: Any) -> None:
    entra.graph_body["mail"] = None
    entra.graph_body["userPrincipalName"] = "ada_ext#EXT#@contoso.example"
    profile = make_provider().complete_sign_in(callback()).profile
    assert profile.email == "ada_ext#EXT#@contoso.example"
    assert profile.email_verified is False


def test_an_address_is_verified_when_entra_says_its_domain_is_the_tenants(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token(email="ada@contoso.example", xms_edov=True))
    profile = make_provider().complete_sign_in(callback()).profile
    assert (profile.email, profile.email_verified) == ("ada@contoso.example", True)


def test_the_verified_address_is_the_id_tokens_not_graphs_mail(entra: FakeEntra, make_provider: Any) -> None:
    entra.graph_body["mail"] = "someone-else@fabrikam.example"  # Mail is editable, never verified
    entra.token_body = entra.token_response(entra.id_token(email="ada@contoso.example", xms_edov=True))
    profile = make_provider().complete_sign_in(callback()).profile
    assert (profile.email, profile.email_verified) == ("ada@contoso.example", True)


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "ada@contoso.example"},  # no xms_edov: the app registration does not ask for it
        {"email": "ada@contoso.example", "xms_edov": False},
        {"email": "ada@contoso.example", "xms_edov": "true"},  # not Entra's boolean
        {"email": "ada@contoso.example", "xms_edov": 1},
        {"xms_edov": True},  # nothing to vouch for
        {"email": "ada@contoso.example", "xms_edov": True,  # a guest: another tenant owns the domain
         "idp": "https://sts.windows.net/0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e/"},
    ],
    ids=["absent", "false", "string", "number", "no-email", "guest"],
)
def test_an_address_stays_unverified_otherwise(entra: FakeEntra, make_provider: Any, claims: dict[str, Any]) -> None:
    entra.token_body = entra.token_response(entra.id_token(**claims))
    profile = make_provider().complete_sign_in(callback()).profile
    assert profile.email_verified is False


def test_discovery_is_not_fetched_per_sign_in(entra: FakeEntra, make_provider: Any) -> None:
    provider = make_provider()
    for _ in range(3):
        provider.complete_sign_in(callback())
    assert len(entra.calls_to(entra.discovery_url)) == 1
    assert len(entra.calls_to(entra.jwks_url)) == 1


def test_a_rejected_id_token_means_no_graph_call(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token(nonce="other"))
    with pytest.raises(TokenRejected):
        make_provider().complete_sign_in(callback())
    assert entra.calls_to(entra.me_url) == []


def test_missing_code_and_missing_id_token(entra: FakeEntra, make_provider: Any) -> None:
    with pytest.raises(SignInError, match="no authorization code"):
        make_provider().complete_sign_in(callback(state="s"))
    entra.token_body = entra.token_response()
    del entra.token_body["id_token"]
    with pytest.raises(TokenRejected, match="no ID token"):
        make_provider().complete_sign_in(callback())


def test_missing_oid_is_rejected(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token(oid=None))
    with pytest.raises(TokenRejected, match="oid"):
        make_provider().complete_sign_in(callback())


def test_graph_id_must_equal_oid(entra: FakeEntra, make_provider: Any) -> None:
    entra.graph_body["id"] = "11111111-0000-4000-8000-000000000000"
    with pytest.raises(TokenRejected) as caught:
        make_provider().complete_sign_in(callback())
    assert caught.value.code == "subject_mismatch"


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        ({"status": 401, "json": {"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}}}, TokenRejected, "refused the access token"),
        ({"status": 403, "json": {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}}, ProviderMisconfigured, "User.Read"),
        ({"status": 429, "json": {"error": {"code": "TooManyRequests"}}, "headers": {"Retry-After": "30"}}, ProviderUnavailable, "wait 30"),
        ({"status": 500, "json": {"error": {"code": "generalException"}}}, ProviderUnavailable, "500"),
        ({"status": 200, "body": "<html>proxy</html>"}, ProviderUnavailable, "not JSON"),
        ({"body": requests.ReadTimeout()}, ProviderUnavailable, "in time"),
    ],
    ids=["401", "403", "429", "500", "html", "timeout"],
)  # fmt: skip
def test_graph_failures_are_clear(
    entra: FakeEntra, make_provider: Any, answer: dict[str, Any], error: type, text: str
) -> None:
    entra.rsps.replace("GET", entra.me_url, **answer)
    with pytest.raises(error, match=text) as caught:
        make_provider().complete_sign_in(callback())
    assert ACCESS_TOKEN not in str(caught.value)


# --- authorization errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "description", "text", "code"),
    [
        ("access_denied", "AADSTS65004: User declined to consent to access the app.", "declined", "AADSTS65004"),
        ("consent_required", "AADSTS65001: The user or administrator has not consented.", "admin consent", "AADSTS65001"),
        ("interaction_required", "AADSTS50076: MFA required", "admin consent", "AADSTS50076"),
        ("access_denied", "AADSTS50105: not assigned", "not assigned", "AADSTS50105"),
        ("server_error", "<script>alert(1)</script>", "Wait a minute", "server_error"),
        ("weird_error", "", "weird_error", "weird_error"),
    ],
)  # fmt: skip
def test_authorization_errors_get_helpful_messages(
    entra: FakeEntra, make_provider: Any, error: str, description: str, text: str, code: str
) -> None:
    with pytest.raises(ProviderDenied, match=text) as caught:
        make_provider().complete_sign_in(callback(error=error, error_description=description))
    assert caught.value.provider_code == code
    assert "<script>" not in caught.value.message
    assert len(entra.rsps.calls) == 0


def test_token_endpoint_aadsts_code_is_kept(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_status = 400
    entra.token_body = {
        "error": "invalid_grant",
        "error_description": "AADSTS54005: OAuth2 Authorization code was already redeemed.\r\nTrace ID: x",
        "error_codes": [54005],
    }
    with pytest.raises(TokenRejected) as caught:
        make_provider().complete_sign_in(callback())
    assert caught.value.provider_code == "AADSTS54005"
    assert "Trace ID" not in caught.value.message
    assert CODE not in caught.value.message and VERIFIER not in caught.value.message


def test_invalid_client_names_the_secret(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_status = 401
    entra.token_body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000222: The provided client secret keys are expired.",
        "error_codes": [7000222],
    }
    with pytest.raises(ProviderMisconfigured, match="secret or certificate is wrong or expired") as caught:
        make_provider().complete_sign_in(callback())
    assert caught.value.provider_code == "AADSTS7000222"
    assert SECRET not in repr(caught.value)


# --- Entra issuer and tenant rules ----------------------------------------------------------


def test_common_requires_the_template_issuer_in_discovery(
    rsps: Any, clock: Clock, make_provider: Any
) -> None:
    entra = FakeEntra(rsps, clock, tenant="common")
    entra.discovery_issuer = f"{entra.host}/{TENANT}/v2.0"  # a concrete issuer for /common
    with pytest.raises(ProviderMisconfigured, match="tenantid"):
        make_provider(tenant="common", allowed_tenants=[TENANT]).complete_sign_in(callback())


@pytest.fixture
def common(rsps: Any, clock: Clock) -> FakeEntra:
    entra = FakeEntra(rsps, clock, tenant="common")
    entra.discovery_issuer = f"{entra.host}/{{tenantid}}/v2.0"
    return entra


def test_common_fills_tenantid_from_tid_and_applies_the_allow_list(
    common: FakeEntra, make_provider: Any
) -> None:
    provider = make_provider(tenant="common", allowed_tenants=[TENANT])
    assert provider.complete_sign_in(callback()).identity.tenant == TENANT
    common.token_body = common.token_response(common.id_token(tid=OTHER_TENANT))
    with pytest.raises(AccessDenied) as caught:
        provider.complete_sign_in(callback())
    assert caught.value.code == "tenant_denied"
    assert len(common.calls_to(common.me_url)) == 1  # only the allowed sign-in reached Graph


def test_organizations_with_star_allows_any_tenant(
    common: FakeEntra, make_provider: Any, rsps: Any, clock: Clock
) -> None:
    organizations = FakeEntra(rsps, clock, tenant="organizations")
    organizations.discovery_issuer = f"{organizations.host}/{{tenantid}}/v2.0"
    organizations.token_body = organizations.token_response(organizations.id_token(tid=OTHER_TENANT))
    result = make_provider(tenant="organizations", allowed_tenants=["*"]).complete_sign_in(callback())
    assert result.identity.subject == f"{OTHER_TENANT}:{OID}"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"tid": "not-a-guid", "iss": "https://login.microsoftonline.com/not-a-guid/v2.0"}, "bad_tenant"),
        ({"iss": f"https://sts.windows.net/{TENANT}/"}, "issuer_mismatch"),
        ({"iss": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"}, "issuer_mismatch"),
        ({"ver": "1.0"}, "issuer_mismatch"),
    ],
    ids=["non-guid-tid", "v1-issuer", "iss-tenant-not-tid", "ver-1"],
)  # fmt: skip
def test_multi_tenant_issuer_rules(
    common: FakeEntra, make_provider: Any, overrides: dict[str, Any], code: str
) -> None:
    common.token_body = common.token_response(common.id_token(**overrides))
    with pytest.raises(TokenRejected) as caught:
        make_provider(tenant="common", allowed_tenants=["*"]).complete_sign_in(callback())
    assert caught.value.code == code


def test_single_tenant_refuses_another_tenants_token(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token(tid=OTHER_TENANT))
    with pytest.raises(TokenRejected):
        make_provider().complete_sign_in(callback())


def test_domain_tenant_pins_the_guid_from_discovery(rsps: Any, clock: Clock, make_provider: Any) -> None:
    entra = FakeEntra(rsps, clock, tenant="contoso.onmicrosoft.com")
    entra.discovery_issuer = f"{entra.host}/{TENANT}/v2.0"
    provider = make_provider(tenant="contoso.onmicrosoft.com")
    entra.token_body = entra.token_response(entra.id_token(tid=TENANT))
    assert provider.complete_sign_in(callback()).identity.tenant == TENANT
    entra.token_body = entra.token_response(entra.id_token(tid=OTHER_TENANT))
    with pytest.raises(TokenRejected, match="tid"):
        provider.complete_sign_in(callback())


def test_domain_tenant_discovery_must_name_a_guid_issuer(rsps: Any, clock: Clock, make_provider: Any) -> None:
    entra = FakeEntra(rsps, clock, tenant="contoso.onmicrosoft.com")
    entra.discovery_issuer = f"{entra.host}/contoso.onmicrosoft.com/v2.0"
    with pytest.raises(ProviderMisconfigured):
        make_provider(tenant="contoso.onmicrosoft.com").complete_sign_in(callback())


def test_key_published_for_another_issuer_cannot_sign(entra: FakeEntra, make_provider: Any) -> None:
    entra.key_issuer = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    with pytest.raises(TokenRejected, match="another issuer"):
        make_provider().complete_sign_in(callback())


def test_sovereign_cloud_hosts(rsps: Any, clock: Clock, make_provider: Any) -> None:
    entra = FakeEntra(rsps, clock, host="https://login.microsoftonline.us")
    entra.graph = "https://graph.microsoft.us"
    entra.install()
    provider = make_provider(
        authority_host="https://login.microsoftonline.us", graph_base_url="https://graph.microsoft.us"
    )
    result = provider.complete_sign_in(callback())
    assert result.identity.issuer == f"https://login.microsoftonline.us/{TENANT}/v2.0"
    assert entra.calls_to("https://graph.microsoft.us/v1.0/me")
    assert provider.end_session_url("https://hub.example/").startswith(
        f"https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/logout?"
    )


# --- roles ----------------------------------------------------------------------------------


def test_groups_and_overage_never_grant_roles(entra: FakeEntra, make_provider: Any) -> None:
    group = "e1e1e1e1-0000-4000-8000-000000000001"
    overage = {
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
    }
    provider = make_provider(role_map={"Hub.Admin": "admin", group: "admin"})
    entra.token_body = entra.token_response(entra.id_token(groups=[group], wids=[group]))
    assert provider.complete_sign_in(callback()).identity.roles == frozenset()
    entra.token_body = entra.token_response(entra.id_token(**overage))
    assert provider.complete_sign_in(callback()).identity.roles == frozenset()
    entra.token_body = entra.token_response(entra.id_token(roles="Hub.Admin"))  # not a list
    assert provider.complete_sign_in(callback()).identity.roles == frozenset()


# --- refresh --------------------------------------------------------------------------------


def test_refresh_rotates_and_validates(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token(nonce=None))
    result = make_provider().refresh(REFRESH_TOKEN, previous_identity(entra))
    assert result.tokens.refresh_token == NEW_REFRESH_TOKEN
    assert result.identity is not None and result.identity.subject == SUBJECT
    body = entra.calls_to(entra.token_url)[0].request.body
    assert "grant_type=refresh_token" in body


def test_refresh_without_new_tokens_keeps_the_old_refresh_token(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = {"token_type": "Bearer", "access_token": "a", "expires_in": 3599}
    result = make_provider().refresh(REFRESH_TOKEN, previous_identity(entra))
    assert result.tokens.refresh_token == REFRESH_TOKEN
    assert result.identity is None


@pytest.mark.parametrize(
    "previous",
    [
        Identity(subject=SUBJECT, issuer=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0", tenant=TENANT),
        Identity(subject=SUBJECT, issuer=f"https://login.microsoftonline.com/{TENANT}/v2.0", tenant=OTHER_TENANT),
        Identity(subject=f"{TENANT}:22222222-0000-4000-8000-000000000000", issuer=f"https://login.microsoftonline.com/{TENANT}/v2.0", tenant=TENANT),
    ],
    ids=["iss-changed", "tid-changed", "oid-changed"],
)  # fmt: skip
def test_refresh_naming_someone_else_is_rejected(
    entra: FakeEntra, make_provider: Any, previous: Identity
) -> None:
    entra.token_body = entra.token_response(entra.id_token(nonce=None))
    with pytest.raises(TokenRejected) as caught:
        make_provider().refresh(REFRESH_TOKEN, previous)
    assert caught.value.code == "subject_mismatch"


def test_refresh_invalid_grant_is_refresh_rejected_with_aadsts(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_status = 400
    entra.token_body = {
        "error": "invalid_grant",
        "error_description": "AADSTS700082: The refresh token has expired due to inactivity.",
        "error_codes": [700082],
    }
    with pytest.raises(RefreshRejected) as caught:
        make_provider().refresh(REFRESH_TOKEN, previous_identity(entra))
    assert caught.value.provider_code == "AADSTS700082"
    assert REFRESH_TOKEN not in repr(caught.value)


def test_refresh_with_a_bad_id_token_is_rejected(entra: FakeEntra, make_provider: Any) -> None:
    entra.token_body = entra.token_response(entra.id_token(nonce=None, key=_KEY_POOL[2]))
    with pytest.raises(TokenRejected):
        make_provider().refresh(REFRESH_TOKEN, previous_identity(entra))


# --- sign-out and health --------------------------------------------------------------------


def test_end_session_url(make_provider: Any) -> None:
    url = make_provider().end_session_url("http://127.0.0.1:5001/signed-out")
    assert url == (
        f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/logout"
        "?post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A5001%2Fsigned-out"
    )


def test_health_reports_discovery_and_keys(entra: FakeEntra, make_provider: Any) -> None:
    checks = make_provider().health()
    assert [(check.name, check.ok) for check in checks] == [
        ("OpenID configuration", True),
        ("Signing keys", True),
    ]
    entra.rsps.replace("GET", entra.jwks_url, status=500)
    assert [check.ok for check in make_provider().health()] == [True, False]
    entra.rsps.replace("GET", entra.discovery_url, body=requests.ConnectTimeout())
    checks = make_provider().health()
    assert len(checks) == 1 and not checks[0].ok and "in time" in checks[0].detail


def test_provider_repr_hides_the_secret(make_provider: Any) -> None:
    provider = make_provider()
    assert SECRET not in repr(provider)
    assert SECRET not in repr(provider.config)
    assert SECRET not in repr(provider.token_client.client_auth)


def test_granted_scopes_are_reported_in_the_form_they_were_requested() -> None:
    """Entra echoes Graph scopes with their resource and never echoes offline_access; the
    console compares granted with requested, so both must use the same form."""
    from hub_entra.provider import granted_scopes

    answered = ("openid", "profile", "https://graph.microsoft.com/User.Read")
    assert granted_scopes(answered, refresh_token_issued=True) == ("openid", "profile", "User.Read", "offline_access")
    assert "offline_access" not in granted_scopes(answered, refresh_token_issued=False)
