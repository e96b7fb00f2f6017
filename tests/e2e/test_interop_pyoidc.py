"""Interoperability: pyoidc (the `oic` package, Roland Hedberg's OpenID-certified Python library)
signs in through the live hub with its default settings.

The client is configured as a team would from the hub's documentation: the issuer (discovery),
the client id and secret of a default registration (`hub apps create NAME --redirect-uri URI
--post-logout-redirect-uri URI`, nothing else) and its redirect URI. Every other choice is
pyoidc's own default: `client_secret_basic` for the code, `client_secret_post` for the refresh
(pyoidc sends the secret in the body when no method is named), userinfo as a POST with the access
token in the body, and its own ID-token validation (signature from the JWKS, iss, aud, nonce).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.interop_libs import require
from tests.issuer_kit import IssuerKit, RegisteredApp

pytestmark = pytest.mark.slow

CALLBACK = "https://wiki.example/callback"
SIGNED_OUT = "https://wiki.example/signed-out"


def pyoidc_client(kit: IssuerKit, registered: RegisteredApp) -> Any:
    """pyoidc's Client configured with the issuer, client id, secret and redirect URI only."""
    require("oic")
    from oic.oic import Client
    from oic.oic.message import RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(kit.base)
    client.store_registration_info(
        RegistrationResponse(client_id=registered.client_id, client_secret=registered.client_secret,
                             redirect_uris=[registered.redirect_uri])
    )
    client.redirect_uris = [registered.redirect_uri]
    return client


def sign_in(kit: IssuerKit, client: Any, registered: RegisteredApp) -> tuple[str, Any]:
    """pyoidc's authorization request through the signed-in browser (with the consent page of an
    application that is not first-party), the response parsed and the code redeemed."""
    from oic.oic.message import AccessTokenResponse, AuthorizationResponse

    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    request = client.construct_AuthorizationRequest(request_args={
        "client_id": client.client_id, "response_type": "code", "scope": ["openid", "profile", "email"],
        "nonce": nonce, "redirect_uri": registered.redirect_uri, "state": state,
    })
    consent_page = kit.get(request.request(client.authorization_endpoint))
    assert consent_page.status_code == 200, consent_page.get_data(as_text=True)[:2000]
    arrived = kit.consent(consent_page)
    assert arrived.status_code == 302, arrived.get_data(as_text=True)[:2000]
    location = arrived.headers["Location"]
    assert location.startswith(registered.redirect_uri), location

    authorization = client.parse_response(AuthorizationResponse, info=urlsplit(location).query, sformat="urlencoded")
    assert authorization["state"] == state and authorization["iss"] == kit.base
    tokens = client.do_access_token_request(state=state, request_args={"code": authorization["code"]})
    assert isinstance(tokens, AccessTokenResponse), tokens.to_dict()
    return state, tokens


def hub_user_id(kit: IssuerKit, upstream_subject: str) -> int:
    from sqlalchemy import select

    from hub.core.models import LinkedAccount

    with kit.rt.db.session() as session:
        return session.scalar(select(LinkedAccount.user_id).where(LinkedAccount.subject == upstream_subject))


def test_pyoidc_signs_in_reads_userinfo_refreshes_and_signs_out(issuer: IssuerKit) -> None:
    registered = issuer.register("Wiki (pyoidc)", CALLBACK, post_logout_redirect_uris=[SIGNED_OUT])
    client = pyoidc_client(issuer, registered)
    assert client.provider_info["issuer"] == issuer.base
    issuer.sign_in("alice")

    state, tokens = sign_in(issuer, client, registered)
    id_token = tokens["id_token"]  # pyoidc verified it: signature from the JWKS, iss, aud, exp, nonce
    assert id_token["iss"] == issuer.base and id_token["aud"] == [registered.client_id]
    assert id_token["sid"] and tokens["refresh_token"]
    assert id_token["sub"] != str(hub_user_id(issuer, "sub-alice"))  # an opaque public id, not a row number

    from oic.oic.message import OpenIDSchema

    userinfo = client.do_user_info_request(state=state)  # pyoidc's default: POST, token in the body
    assert isinstance(userinfo, OpenIDSchema), userinfo.to_dict()
    assert userinfo["sub"] == id_token["sub"]
    assert userinfo["email"] == "alice@example.test"

    refreshed = client.do_access_token_refresh(state=state)  # pyoidc's default: the secret in the body
    assert "error" not in refreshed, refreshed.to_dict()
    assert refreshed["refresh_token"] != tokens["refresh_token"]  # rotated
    assert refreshed["access_token"] != tokens["access_token"]
    # OIDC Core 12.2: a new ID token with the same iss, sub and aud (pyoidc verified it). pyoidc
    # needs it: the refresh dropped the replaced token, and with it the first ID token, which the
    # logout request below takes its id_token_hint from.
    assert "id_token" in refreshed, refreshed.to_dict()
    assert refreshed["id_token"]["sub"] == id_token["sub"]
    assert client.do_user_info_request(state=state)["sub"] == id_token["sub"]  # with the new access token

    logout = client.construct_EndSessionRequest(state=state, request_args={
        "post_logout_redirect_uri": SIGNED_OUT, "state": "bye",
    })
    signed_out = issuer.get(logout.request(client.end_session_endpoint))
    assert signed_out.status_code == 302, signed_out.get_data(as_text=True)[:2000]
    location = signed_out.headers["Location"]
    assert location.startswith(SIGNED_OUT) and parse_qs(urlsplit(location).query)["state"] == ["bye"]
    assert issuer.browser.get("/account").status_code == 302  # the hub session ended
