"""The hub as OpenID Provider, driven by Authlib's client as the application: every grant and
endpoint, over a real socket."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.oidc.discovery import OpenIDProviderMetadata


def test_discovery_is_valid_and_cacheable(issuer):
    response = requests.get(f"{issuer.base}/.well-known/openid-configuration", timeout=5)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    metadata = OpenIDProviderMetadata(response.json())
    metadata.validate()
    assert metadata["issuer"] == issuer.base
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    jwks = requests.get(metadata["jwks_uri"], timeout=5)
    assert jwks.headers["Cache-Control"].startswith("public, max-age=")
    assert {key["kty"] for key in jwks.json()["keys"]} == {"RSA", "EC"}
    assert all("d" not in key for key in jwks.json()["keys"])


def test_code_flow_for_a_confidential_app(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth, token, authorized = issuer.sign_in_through(wiki, scope="openid profile email roles")
    assert authorized.params["iss"] == issuer.base
    assert authorized.params["state"] == authorized.state
    header, claims = issuer.decode(token["id_token"])
    assert header["kid"]
    assert claims["iss"] == issuer.base and claims["aud"] == wiki.client_id and claims["azp"] == wiki.client_id
    assert claims["nonce"] == authorized.nonce
    assert claims["name"] == "Alice Admin" and claims["email"] == "alice@example.test"
    assert claims["email_verified"] is False  # the fake provider did not verify it
    assert "admin" in claims["roles"] and claims["idp"] == "fake"
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]
    assert claims["amr"] == ["pwd", "mfa"] and claims["acr"] == "urn:example:mfa"  # as the provider said
    at_header, access = issuer.decode(token["access_token"])
    assert at_header["typ"] == "at+jwt"
    assert access["client_id"] == wiki.client_id and access["sub"] == claims["sub"]
    assert access["sid"] == claims["sid"] and access["amr"] == ["pwd", "mfa"]
    assert token["expires_in"] == 300 and token["refresh_token"]
    info = oauth.get(f"{issuer.base}/oauth2/userinfo")
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"] and info.json()["email"] == "alice@example.test"


def test_public_app_uses_pkce_and_no_secret(issuer):
    issuer.sign_in("alice")
    cli_app = issuer.register("CLI", redirect_uri="http://127.0.0.1/callback", public=True, first_party=True)
    oauth = issuer.oauth(cli_app)
    authorized = issuer.authorize(oauth)
    assert authorized.code
    token = issuer.redeem(oauth, authorized)
    assert token["access_token"] and token["refresh_token"]


def test_client_secret_post(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True, auth_method="client_secret_post")
    oauth = issuer.oauth(wiki, token_endpoint_auth_method="client_secret_post")
    token = issuer.redeem(oauth, issuer.authorize(oauth))
    assert token["id_token"]
    basic = issuer.oauth(wiki)  # a method other than the registered one is refused
    refused = requests.post(
        f"{issuer.base}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(wiki.client_id, wiki.client_secret),
        timeout=5,
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert basic is not None


def test_private_key_jwt(issuer):
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "app-key"}, private=True)
    issuer.sign_in("alice")
    wiki = issuer.register(
        "Wiki", first_party=True, auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    oauth = issuer.oauth(wiki, token_endpoint_auth_method=PrivateKeyJWT(f"{issuer.base}/oauth2/token"))
    oauth.client_secret = key.as_dict(private=True)
    authorized = issuer.authorize(oauth)
    token = oauth.fetch_token(
        f"{issuer.base}/oauth2/token", authorization_response=authorized.location,
        code_verifier=authorized.code_verifier,
    )
    assert token["id_token"]
    other = RSAKey.generate_key(2048, parameters={"kid": "not-registered"}, private=True)
    impostor = issuer.oauth(wiki, token_endpoint_auth_method=PrivateKeyJWT(f"{issuer.base}/oauth2/token"))
    impostor.client_secret = other.as_dict(private=True)
    with pytest.raises(OAuthError) as refused:
        impostor.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_client"


def test_client_credentials_for_a_service_app(issuer):
    service = issuer.register("Reports", grant_types=["client_credentials"])
    oauth = issuer.oauth(service, scope="")
    token = oauth.fetch_token(f"{issuer.base}/oauth2/token", grant_type="client_credentials")
    _, claims = issuer.decode(token["access_token"])
    assert claims["sub"] == service.client_id and claims["client_id"] == service.client_id
    assert "refresh_token" not in token and "id_token" not in token
    introspected = requests.post(
        f"{issuer.base}/oauth2/introspect", data={"token": token["access_token"]},
        auth=(service.client_id, service.client_secret), timeout=5,
    ).json()
    assert introspected["active"] is True
    refused = requests.post(
        f"{issuer.base}/oauth2/token", data={"grant_type": "client_credentials", "scope": "openid"},
        auth=(service.client_id, service.client_secret), timeout=5,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


def test_refresh_rotates_and_reuse_revokes_the_family(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth, token, _ = issuer.sign_in_through(wiki)
    first_refresh = token["refresh_token"]
    second = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=first_refresh)
    assert second["refresh_token"] != first_refresh and second["access_token"]
    # its successor used, the first token presented again is reuse even within the grace window
    refreshed = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=second["refresh_token"])
    reuse = requests.post(
        f"{issuer.base}/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": first_refresh},
        auth=(wiki.client_id, wiki.client_secret), timeout=5,
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # the whole family is revoked: the newest refresh token and the access tokens too
    newest = requests.post(
        f"{issuer.base}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(wiki.client_id, wiki.client_secret), timeout=5,
    )
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"
    introspected = requests.post(
        f"{issuer.base}/oauth2/introspect", data={"token": refreshed["access_token"]},
        auth=(wiki.client_id, wiki.client_secret), timeout=5,
    ).json()
    assert introspected == {"active": False}
    assert "issuer.refresh_reuse" in audit_types(issuer)


def test_userinfo_refuses_missing_and_forged_tokens(issuer):
    missing = requests.get(f"{issuer.base}/oauth2/userinfo", timeout=5)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_token"
    assert missing.headers["WWW-Authenticate"] == f'Bearer realm="{issuer.base}"'  # RFC 6750 §3.1: no error code
    forged = requests.get(
        f"{issuer.base}/oauth2/userinfo", headers={"Authorization": "Bearer a.b.c"}, timeout=5
    )
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"
    assert "WWW-Authenticate" in forged.headers


def audit_types(issuer) -> list[str]:
    from sqlalchemy import select

    from hub.core.models import AuditEvent

    with issuer.rt.db.session() as session:
        return list(session.scalars(select(AuditEvent.type).order_by(AuditEvent.seq)))


class DepartmentClaims:
    """A plugin written from docs/plugins.md's example."""

    hub_api_version = 1

    @staticmethod
    def hub_token_claims(application, user, scopes, claims):
        if "profile" in scopes:
            return {"department": "Platform", "sub": "forged", "email": None}
        return None


def test_hub_token_claims_plugins_add_claims_but_not_protected_ones(issuer, plugins, caplog):
    from hub import hookimpl

    plugin = DepartmentClaims()
    plugin.hub_token_claims = hookimpl(DepartmentClaims.hub_token_claims)
    plugins.manager.register(plugin, "departments")
    try:
        issuer.sign_in("alice")
        wiki = issuer.register("Wiki", first_party=True)
        oauth, token, _ = issuer.sign_in_through(wiki, scope="openid profile email")
        _, claims = issuer.decode(token["id_token"])
        assert claims["department"] == "Platform"
        assert claims["sub"] != "forged" and "email" not in claims  # removed by the plugin
        assert "protected claim 'sub'" in caplog.text
        info = oauth.get(f"{issuer.base}/oauth2/userinfo").json()
        assert info["department"] == "Platform" and info["sub"] == claims["sub"]
        _, bare = issuer.decode(issuer.sign_in_through(wiki, scope="openid")[1]["id_token"])
        assert "department" not in bare
    finally:
        plugins.manager.unregister(plugin)


def test_pairwise_subjects_differ_per_application(issuer):
    issuer.sign_in("alice")
    one = issuer.register("One", first_party=True, pairwise_subject=True)
    two = issuer.register("Two", first_party=True, pairwise_subject=True, redirect_uri="https://two.example/cb")
    _, first = issuer.decode(issuer.sign_in_through(one)[1]["id_token"])
    _, second = issuer.decode(issuer.sign_in_through(two)[1]["id_token"])
    assert first["sub"] != second["sub"]
    assert first["sub"] == issuer.decode(issuer.sign_in_through(one)[1]["id_token"])[1]["sub"]


def test_es256_id_tokens_on_request(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True, signing_alg="ES256")
    header, _ = issuer.decode(issuer.sign_in_through(wiki)[1]["id_token"])
    assert header["alg"] == "ES256"


def test_every_step_is_audited(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki")
    oauth = issuer.oauth(wiki)
    url, kept = issuer.authorize_url(oauth)
    arrived = issuer.arrived(issuer.consent(issuer.get(url)).headers["Location"], **kept)
    token = issuer.redeem(oauth, arrived)
    oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=token["refresh_token"])
    types = audit_types(issuer)
    for expected in ("issuer.consent", "issuer.authorize", "issuer.token", "issuer.refresh"):
        assert expected in types
    from hub.core.audit import verify

    with issuer.rt.db.session() as session:
        assert verify(session, issuer.rt.keys.audit_key).ok


def test_upstream_amr_and_acr_are_kept_only_when_well_formed():
    from hub.provider import authentication_claims

    assert authentication_claims({"amr": ["pwd", "mfa"], "acr": "1"}) == {"amr": ("pwd", "mfa"), "acr": "1"}
    assert authentication_claims({"amr": "pwd", "acr": 2}) == {}
    assert authentication_claims({"amr": ["x" * 65], "acr": "y" * 257}) == {}
    assert authentication_claims({}) == {}
