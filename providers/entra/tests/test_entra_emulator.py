"""EntraProvider against the running emulator over real sockets, and the emulator's wire formats."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests

from hub.errors import (
    AccessDenied,
    ProviderDenied,
    ProviderMisconfigured,
    ProviderUnavailable,
    RefreshRejected,
    TokenRejected,
)
from hub.http import ProviderSession
from hub.oidc.keys import DEFAULT_TRUSTED_REFETCHES
from hub.provider import AuthorizationRequest, Callback, ProviderContext
from hub_entra import EntraProvider
from hub_entra.emulator import (
    CONTOSO_TENANT_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    FABRIKAM_TENANT_ID,
    CertifiedKey,
    Client,
    EntraEmulator,
)
from hub_entra.testing import (
    REDIRECT_URI,
    authorize_params,
    emulator_provider,
    pkce,
    query_of,
    sign_in,
)

ALICE = "alice@contoso.example"
BOB = "bob@contoso.example"
CAROL = "carol@fabrikam.example"


# --- round trips ----------------------------------------------------------------------------


def test_full_round_trip_for_an_admin(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    result = sign_in(emulator_provider(emulator))
    assert result.identity.subject == f"{CONTOSO_TENANT_ID}:a11ce000-0000-4000-8000-00000000a11c"
    assert result.identity.roles == frozenset({"admin"})
    assert result.identity.issuer == f"{emulator.base_url}/{CONTOSO_TENANT_ID}/v2.0"
    assert result.profile.display_name == "Alice Adams"
    assert result.profile.email == ALICE
    assert "User.Read" in result.tokens.scopes
    assert emulator.requests["graph"] == 1


def test_plain_user_has_no_roles(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = BOB
    assert sign_in(emulator_provider(emulator)).identity.roles == frozenset()


def test_pages_pick_an_account_then_accept(emulator: EntraEmulator) -> None:
    provider = emulator_provider(emulator)
    verifier, challenge = pkce()
    browser = requests.Session()
    page = browser.get(
        provider.authorization_url(AuthorizationRequest("st", "nonce-1", challenge)), timeout=10
    )
    assert page.status_code == 200
    assert ">Alice Adams</button>" in page.text and ">Bob Brown</button>" in page.text
    assert "Carol Chen" not in page.text  # another tenant's people are not offered
    context_id = re.search(r'name="ctx" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    base = f"{emulator.base_url}/{CONTOSO_TENANT_ID}/oauth2/v2.0/authorize"
    consent = browser.post(f"{base}/pick", data={"ctx": context_id, "user": ALICE}, timeout=10)
    assert ">Accept</button>" in consent.text and ">Cancel</button>" in consent.text
    answer = browser.post(
        f"{base}/consent", data={"ctx": context_id, "decision": "accept"}, allow_redirects=False, timeout=10
    )
    params = query_of(answer.headers["Location"])
    assert set(params) == {"code", "state", "session_state"}  # never iss
    result = provider.complete_sign_in(Callback(params, verifier, "nonce-1"))
    assert result.identity.session_id == params["session_state"]


def test_declining_consent_is_provider_denied(emulator: EntraEmulator) -> None:
    provider = emulator_provider(emulator)
    _verifier, challenge = pkce()
    browser = requests.Session()
    page = browser.get(provider.authorization_url(AuthorizationRequest("st", "n", challenge)), timeout=10)
    context_id = re.search(r'name="ctx" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    base = f"{emulator.base_url}/{CONTOSO_TENANT_ID}/oauth2/v2.0/authorize"
    browser.post(f"{base}/pick", data={"ctx": context_id, "user": BOB}, timeout=10)
    answer = browser.post(
        f"{base}/consent", data={"ctx": context_id, "decision": "cancel"}, allow_redirects=False, timeout=10
    )
    params = query_of(answer.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == "st"
    with pytest.raises(ProviderDenied, match="declined") as caught:
        provider.complete_sign_in(Callback(params, "v", "n"))
    assert caught.value.provider_code == "AADSTS65004"


def test_refresh_rotates_and_revocation_is_refresh_rejected(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    first = sign_in(provider)
    refreshed = provider.refresh(first.tokens.refresh_token or "", first.identity)
    assert refreshed.tokens.refresh_token not in (None, first.tokens.refresh_token)
    assert refreshed.identity == first.identity
    assert refreshed.tokens.access_token != first.tokens.access_token
    emulator.revoke_refresh_tokens(ALICE)
    with pytest.raises(RefreshRejected) as caught:
        provider.refresh(refreshed.tokens.refresh_token or "", first.identity)
    assert caught.value.provider_code == "AADSTS50173"


def test_a_code_works_once(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    params, verifier, nonce = authorize_params(provider)
    provider.complete_sign_in(Callback(params, verifier, nonce))
    with pytest.raises(TokenRejected) as caught:
        provider.complete_sign_in(Callback(params, verifier, nonce))
    assert caught.value.provider_code == "AADSTS54005"
    assert params["code"] not in caught.value.message


def test_wrong_pkce_verifier_is_rejected(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    params, _verifier, nonce = authorize_params(provider)
    with pytest.raises(TokenRejected) as caught:
        provider.complete_sign_in(Callback(params, pkce()[0], nonce))
    assert caught.value.provider_code == "AADSTS501481"


def test_client_secret_post_and_a_wrong_secret(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    assert sign_in(emulator_provider(emulator, client_auth_method="client_secret_post"))
    with pytest.raises(ProviderMisconfigured, match="wrong or expired") as caught:
        sign_in(emulator_provider(emulator, client_secret="not-the-secret"))
    assert caught.value.provider_code == "AADSTS7000215"
    assert "not-the-secret" not in repr(caught.value)


def test_certificate_credential(emulator: EntraEmulator) -> None:
    certified = CertifiedKey.generate("hub client certificate")
    emulator.add_client(
        Client(
            client_id="c0c0c0c0-0000-4000-8000-00000000c0c0",
            name="Hub with a certificate",
            home_tenant=CONTOSO_TENANT_ID,
            redirect_uris=(REDIRECT_URI,),
            certificates_pem=(certified.certificate_pem(),),
            multi_tenant=False,
        )
    )
    emulator.auto_sign_in = ALICE
    settings = {
        "client_id": "c0c0c0c0-0000-4000-8000-00000000c0c0",
        "client_secret": None,
        "certificate": certified.certificate_pem().decode(),
        "certificate_key": certified.private_key_pem().decode(),
    }
    assert sign_in(emulator_provider(emulator, **settings)).identity.roles == frozenset({"admin"})
    stranger = CertifiedKey.generate("not registered")
    settings["certificate"] = stranger.certificate_pem().decode()
    settings["certificate_key"] = stranger.private_key_pem().decode()
    with pytest.raises(ProviderMisconfigured) as caught:
        sign_in(emulator_provider(emulator, **settings))
    assert caught.value.provider_code == "AADSTS700027"


def test_multi_tenant_with_an_allow_list(emulator: EntraEmulator) -> None:
    provider = emulator_provider(emulator, tenant="organizations", allowed_tenants=[CONTOSO_TENANT_ID])
    emulator.auto_sign_in = ALICE
    assert sign_in(provider).identity.tenant == CONTOSO_TENANT_ID
    emulator.auto_sign_in = CAROL
    graph_calls = emulator.requests["graph"]
    with pytest.raises(AccessDenied) as caught:
        sign_in(provider)
    assert caught.value.code == "tenant_denied"
    assert emulator.requests["graph"] == graph_calls


def test_common_lets_both_tenants_in_and_keeps_them_apart(emulator: EntraEmulator) -> None:
    provider = emulator_provider(emulator, tenant="common")
    emulator.auto_sign_in = CAROL
    carol = sign_in(provider)
    assert carol.identity.tenant == FABRIKAM_TENANT_ID
    assert carol.identity.roles == frozenset({"admin"})
    emulator.auto_sign_in = "mallory@fabrikam.example"
    mallory = sign_in(provider)
    assert mallory.profile.email == ALICE and mallory.profile.email_verified is False
    assert mallory.identity.subject.startswith(FABRIKAM_TENANT_ID)


def test_people_of_a_tenants_own_domain_are_verified_mallory_is_not(emulator: EntraEmulator) -> None:
    provider = emulator_provider(emulator, tenant="common")
    emulator.auto_sign_in = ALICE
    alice = sign_in(provider)
    claims = provider.validator.validate_refreshed(alice.tokens.id_token or "").claims
    assert claims["email"] == ALICE and claims["xms_edov"] is True
    assert (alice.profile.email, alice.profile.email_verified) == (ALICE, True)
    emulator.auto_sign_in = "mallory@fabrikam.example"  # her Mail says alice's Contoso address
    mallory = sign_in(provider)
    claims = provider.validator.validate_refreshed(mallory.tokens.id_token or "").claims
    assert claims["email"] == ALICE and claims["xms_edov"] is False
    assert mallory.profile.email_verified is False


def test_groups_overage_user_gets_no_roles(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = "dave@contoso.example"
    assert sign_in(emulator_provider(emulator)).identity.roles == frozenset()


def test_key_rotation_costs_one_keys_refetch(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    sign_in(provider)
    emulator.rotate_keys()
    sign_in(provider)
    assert emulator.requests["keys"] == 2
    emulator.rotate_keys(retire_old=True)


# --- misbehaviours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("wrong_issuer", "issuer_mismatch"),
        ("wrong_audience", "audience_mismatch"),
        ("bad_signature", "bad_signature"),
        ("expired_id_token", "token_expired"),
        ("wrong_nonce", "nonce_mismatch"),
        ("unknown_kid", "unknown_signing_key"),
    ],
)
def test_id_token_misbehaviours_are_rejected_before_graph(
    emulator: EntraEmulator, name: str, code: str
) -> None:
    emulator.auto_sign_in = ALICE
    emulator.misbehave(name)
    with pytest.raises(TokenRejected) as caught:
        sign_in(emulator_provider(emulator))
    assert caught.value.code == code
    assert emulator.requests["graph"] == 0


def test_unknown_kids_from_the_token_endpoint_refetch_keys_within_a_bound(emulator: EntraEmulator) -> None:
    """Each new kid in an ID token may be a rotation, so it refetches the keys, but never more
    than DEFAULT_TRUSTED_REFETCHES times a minute."""
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    sign_in(provider)
    emulator.misbehave("unknown_kid", times=None)
    for _ in range(DEFAULT_TRUSTED_REFETCHES + 3):
        with pytest.raises(TokenRejected):
            sign_in(provider)
    assert emulator.requests["keys"] == 1 + DEFAULT_TRUSTED_REFETCHES


@pytest.mark.parametrize(
    ("name", "options", "error", "provider_code"),
    [
        ("http_error", {"endpoint": "graph", "status": 500}, ProviderUnavailable, None),
        ("graph_wrong_id", {}, TokenRejected, None),
        ("http_error", {"endpoint": "token", "status": 429, "retry_after": 30}, ProviderUnavailable, None),
        ("http_error", {"endpoint": "token", "status": 502, "html": True}, ProviderUnavailable, None),
        ("invalid_client", {}, ProviderMisconfigured, "AADSTS7000222"),
        ("token_error", {"error": "invalid_grant", "aadsts": 70008}, TokenRejected, "AADSTS70008"),
        ("discovery_wrong_issuer", {}, ProviderMisconfigured, None),
        ("http_error", {"endpoint": "discovery", "status": 503, "retry_after": 60}, ProviderUnavailable, None),
    ],
)  # fmt: skip
def test_endpoint_misbehaviours_surface_as_hub_errors(
    emulator: EntraEmulator, name: str, options: dict[str, Any], error: type, provider_code: str | None
) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    if options.get("endpoint") != "discovery" and name != "discovery_wrong_issuer":
        provider.discovery.get()
    emulator.misbehave(name, times=None, **options)
    with pytest.raises(error) as caught:
        sign_in(provider)
    assert caught.value.provider_code == provider_code


def test_one_throttled_answer_is_retried(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    emulator.misbehave("http_error", endpoint="token", status=503, retry_after=0)
    assert sign_in(emulator_provider(emulator))
    assert emulator.requests["token"] == 2


def test_slow_token_endpoint_times_out(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    settings = emulator.provider_settings()
    context = ProviderContext(REDIRECT_URI, ProviderSession(timeout=(1.0, 0.3)))
    provider = EntraProvider("entra", "Microsoft", settings, context)
    emulator.misbehave("slow", endpoint="token", seconds=1)
    with pytest.raises(ProviderUnavailable, match="in time"):
        sign_in(provider)


def test_refresh_naming_another_user_is_rejected(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    first = sign_in(provider)
    emulator.misbehave("refresh_other_user")
    with pytest.raises(TokenRejected, match="different"):
        provider.refresh(first.tokens.refresh_token or "", first.identity)


def test_authorize_error_misbehaviour(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    emulator.misbehave("authorize_error", error="consent_required", aadsts=65001, message="Need consent.")
    params, verifier, nonce = authorize_params(provider)
    with pytest.raises(ProviderDenied, match="admin consent") as caught:
        provider.complete_sign_in(Callback(params, verifier, nonce))
    assert caught.value.provider_code == "AADSTS65001"


def test_misbehaviour_names_are_checked(emulator: EntraEmulator) -> None:
    with pytest.raises(ValueError, match="unknown misbehaviour"):
        emulator.misbehave("explode")
    with pytest.raises(ValueError, match="endpoint"):
        emulator.misbehave("slow", seconds=1)


def test_control_api_over_http(emulator: EntraEmulator) -> None:
    base = emulator.base_url
    assert requests.post(f"{base}/_emulator/auto-sign-in", json={"email": BOB}, timeout=5).ok
    assert requests.post(f"{base}/_emulator/misbehave", json={"name": "wrong_nonce"}, timeout=5).ok
    with pytest.raises(TokenRejected):
        sign_in(emulator_provider(emulator))
    assert requests.post(f"{base}/_emulator/rotate-keys", timeout=5).json()["kid"]
    assert requests.post(f"{base}/_emulator/reset", timeout=5).ok
    assert emulator.auto_sign_in is None


def test_concurrent_sign_ins(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            sign_in(provider)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert emulator.requests["token"] == 20


# --- wire formats ---------------------------------------------------------------------------


def test_discovery_documents(emulator: EntraEmulator) -> None:
    base = emulator.base_url
    tenant = requests.get(f"{base}/contoso.example/v2.0/.well-known/openid-configuration", timeout=5).json()
    assert tenant["issuer"] == f"{base}/{CONTOSO_TENANT_ID}/v2.0"
    assert tenant["token_endpoint"] == f"{base}/contoso.example/oauth2/v2.0/token"
    assert "authorization_response_iss_parameter_supported" not in tenant
    common = requests.get(f"{base}/common/v2.0/.well-known/openid-configuration", timeout=5).json()
    assert common["issuer"] == f"{base}/{{tenantid}}/v2.0"
    consumers = requests.get(f"{base}/consumers/v2.0/.well-known/openid-configuration", timeout=5).json()
    assert consumers["issuer"] == f"{base}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    unknown = requests.get(f"{base}/nowhere.example/v2.0/.well-known/openid-configuration", timeout=5)
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


def test_jwks_shape(emulator: EntraEmulator) -> None:
    (key,) = requests.get(f"{emulator.base_url}/common/discovery/v2.0/keys", timeout=5).json()["keys"]
    assert key["kid"] == key["x5t"] and "alg" not in key
    assert key["kty"] == "RSA" and key["use"] == "sig" and len(key["x5c"]) == 1
    assert key["issuer"] == f"{emulator.base_url}/{{tenantid}}/v2.0"


def test_id_token_header_and_claims(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    provider = emulator_provider(emulator)
    result = sign_in(provider)
    validated = provider.validator.validate_refreshed(result.tokens.id_token or "")
    assert set(validated.header) == {"typ", "alg", "kid"}
    claims = validated.claims
    assert claims["ver"] == "2.0" and claims["tid"] == CONTOSO_TENANT_ID
    assert claims["preferred_username"] == ALICE and claims["roles"] == ["Hub.Admin"]
    assert len(claims["sub"]) == 43 and claims["nbf"] == claims["iat"]
    assert result.tokens.access_token.startswith("emu-at.")  # opaque


def test_token_error_shape(emulator: EntraEmulator) -> None:
    answer = requests.post(
        f"{emulator.base_url}/{CONTOSO_TENANT_ID}/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "code": "nope", "client_id": DEMO_CLIENT_ID,
              "client_secret": DEMO_CLIENT_SECRET, "redirect_uri": REDIRECT_URI},
        timeout=5,
    )  # fmt: skip
    body = answer.json()
    assert answer.status_code == 400 and body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS70000: ")
    assert "\r\nTrace ID: " in body["error_description"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert {"error_codes", "trace_id", "correlation_id", "error_uri"} <= set(body)


def test_graph_me_select_and_errors(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    access_token = sign_in(emulator_provider(emulator)).tokens.access_token
    me = f"{emulator.graph_url}/v1.0/me"
    full = requests.get(me, headers={"Authorization": f"Bearer {access_token}"}, timeout=5)
    assert len(full.json()) == 12 and full.json()["mobilePhone"] is None
    assert full.headers["request-id"]
    selected = requests.get(
        me, params={"$select": "id,mail"}, headers={"Authorization": f"Bearer {access_token}"}, timeout=5
    ).json()
    assert set(selected) == {"@odata.context", "id", "mail"}
    assert selected["@odata.context"].endswith("#users(id,mail)/$entity")
    denied = requests.get(me, timeout=5)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "innerError" in denied.json()["error"]


def test_unregistered_redirect_uri_shows_an_error_page(emulator: EntraEmulator) -> None:
    answer = requests.get(
        f"{emulator.base_url}/{CONTOSO_TENANT_ID}/oauth2/v2.0/authorize",
        params={
            "client_id": DEMO_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": "https://evil.example/cb",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 400 and "AADSTS50011" in answer.text


def test_form_post_and_client_info(emulator: EntraEmulator) -> None:
    emulator.auto_sign_in = ALICE
    answer = requests.get(
        f"{emulator.base_url}/{CONTOSO_TENANT_ID}/oauth2/v2.0/authorize",
        params={"client_id": DEMO_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI,
                "response_mode": "form_post", "state": "s<1>", "client_info": "1", "scope": "openid"},
        timeout=5,
    )  # fmt: skip
    assert 'name="code"' in answer.text and 'name="client_info"' in answer.text
    assert 'value="s&lt;1&gt;"' in answer.text


def test_logout_redirects_and_calls_front_channel_urls(emulator: EntraEmulator) -> None:
    emulator.add_client(
        Client(
            client_id="f0f0f0f0-0000-4000-8000-00000000f0f0",
            name="Hub with front-channel logout",
            home_tenant=CONTOSO_TENANT_ID,
            redirect_uris=(REDIRECT_URI,),
            secrets=("s3",),
            frontchannel_logout_url="http://127.0.0.1:5001/auth/entra/frontchannel-logout",
        )
    )
    emulator.auto_sign_in = ALICE
    browser = requests.Session()
    provider = emulator_provider(
        emulator, client_id="f0f0f0f0-0000-4000-8000-00000000f0f0", client_secret="s3"
    )
    params, _verifier, _nonce = authorize_params(provider, browser)
    page = browser.get(provider.end_session_url("http://127.0.0.1:5001/signed-out") or "", timeout=5)
    assert f"frontchannel-logout?sid={params['session_state']}" in page.text
    assert "url=http://127.0.0.1:5001/signed-out" in page.text
    plain = requests.get(
        provider.end_session_url("http://127.0.0.1:5001/signed-out") or "", allow_redirects=False, timeout=5
    )
    assert plain.status_code == 302
    elsewhere = requests.get(
        provider.end_session_url("https://evil.example/") or "", allow_redirects=False, timeout=5
    )
    assert elsewhere.status_code == 200 and "evil" not in elsewhere.text


def test_health_against_the_emulator(emulator: EntraEmulator) -> None:
    assert all(check.ok for check in emulator_provider(emulator).health())


def test_command_line_help() -> None:
    from hub_entra.emulator.__main__ import main

    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
