"""The hub as OpenID Provider, driven by Authlib's client as the application: every grant and
endpoint, over a real socket."""

from __future__ import annotations

import requests
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.issuer_kit import issuer, issuer_idp  # noqa: F401


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
    at_header, access = issuer.decode(token["access_token"])
    assert at_header["typ"] == "at+jwt"
    assert access["client_id"] == wiki.client_id and access["sub"] == claims["sub"]
    assert access["sid"] == claims["sid"]
    assert token["expires_in"] == 300 and token["refresh_token"]
    info = oauth.get(f"{issuer.base}/oauth2/userinfo")
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"] and info.json()["email"] == "alice@example.test"
