"""Test kit for the issuer side: the hub served on a loopback port (so Authlib's requests-based
client talks to it over a real socket), a browser (Flask's test client on the same app), the
fake upstream provider, and helpers that register applications and run authorizations.

tests/conftest.py builds the fixture `issuer` from it on `live_hub` and `idp`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from hub.core.db import write_transaction
from hub.issuer import applications
from tests import fakeidp

REDIRECT = "https://app.example/callback"


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str | None = field(repr=False)
    redirect_uri: str
    name: str


@dataclass
class Authorized:
    """What came back to the application's redirect URI."""

    location: str
    params: dict[str, str]
    code_verifier: str | None = field(repr=False, default=None)
    nonce: str | None = None
    state: str | None = None

    @property
    def code(self) -> str | None:
        return self.params.get("code")


class IssuerKit:
    def __init__(self, app: Flask, base_url: str, idp: fakeidp.FakeIdP) -> None:
        self.app = app
        self.base = base_url
        self.idp = idp
        self.rt = app.extensions["hub"]
        self.browser: FlaskClient = app.test_client()

    # --- registry
    def register(self, name: str = "Wiki", redirect_uri: str = REDIRECT, **options: Any) -> RegisteredApp:
        with write_transaction(self.rt.db) as session:
            created = applications.create(session, name, [redirect_uri], **options)
        return RegisteredApp(created.application.client_id, created.client_secret, redirect_uri, name)

    def oauth(self, registered: RegisteredApp, scope: str = "openid profile email", **options: Any) -> OAuth2Session:
        """Authlib's client, configured as the application would be."""
        options.setdefault("token_endpoint_auth_method", "client_secret_basic" if registered.client_secret else "none")
        return OAuth2Session(
            registered.client_id,
            registered.client_secret,
            scope=scope,
            redirect_uri=registered.redirect_uri,
            code_challenge_method="S256",
            **options,
        )

    # --- the browser
    def sign_in(self, user: str = "alice", browser: FlaskClient | None = None) -> None:
        from tests.conftest import callback_path, start_signin

        browser = browser or self.browser
        url = start_signin(browser)
        response = browser.get(callback_path(self.idp.authorize(url, user)))
        assert response.status_code == 302, response.get_data(as_text=True)

    def authorize_url(self, oauth: OAuth2Session, pkce: bool = True, **params: Any) -> tuple[str, dict[str, Any]]:
        verifier = secrets.token_urlsafe(48) if pkce else None
        nonce = params.pop("nonce", secrets.token_urlsafe(12))
        url, state = oauth.create_authorization_url(
            f"{self.base}/oauth2/authorize", code_verifier=verifier, nonce=nonce, **params
        )
        return url, {"code_verifier": verifier, "nonce": nonce, "state": state}

    def get(self, url: str, browser: FlaskClient | None = None) -> Any:
        parts = urlsplit(url)
        return (browser or self.browser).get(f"{parts.path}?{parts.query}")

    def authorize(self, oauth: OAuth2Session, browser: FlaskClient | None = None, pkce: bool = True, **params: Any) -> Authorized:
        """Run the authorization request in the browser and return what reached the redirect URI."""
        url, kept = self.authorize_url(oauth, pkce=pkce, **params)
        response = self.get(url, browser)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return self.arrived(response.headers["Location"], **kept)

    @staticmethod
    def arrived(location: str, **kept: Any) -> Authorized:
        params = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        return Authorized(location, params, **kept)

    def authorize_allowing(self, oauth: OAuth2Session, browser: FlaskClient | None = None, **params: Any) -> Authorized:
        """`authorize`, allowing on the consent page if the hub shows it (provider_tokens asks
        the person even for a first-party application)."""
        url, kept = self.authorize_url(oauth, **params)
        response = self.get(url, browser)
        if response.status_code == 200:
            response = self.consent(response, browser=browser)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return self.arrived(response.headers["Location"], **kept)

    def consent(self, response: Any, decision: str = "allow", browser: FlaskClient | None = None) -> Any:
        """Submit the consent page a response rendered."""
        html = response.get_data(as_text=True)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
        fields = {key: _unescape(value) for key, value in fields.items()}
        return (browser or self.browser).post("/oauth2/authorize", data={**fields, "decision": decision})

    def redeem(self, oauth: OAuth2Session, authorized: Authorized) -> dict[str, Any]:
        return oauth.fetch_token(
            f"{self.base}/oauth2/token",
            authorization_response=authorized.location,
            code_verifier=authorized.code_verifier,
        )

    def sign_in_through(self, registered: RegisteredApp, scope: str = "openid profile email", **params: Any) -> tuple[OAuth2Session, dict[str, Any], Authorized]:
        """A first-party application's whole code flow for a signed-in browser."""
        oauth = self.oauth(registered, scope=scope)
        authorized = self.authorize(oauth, **params)
        assert authorized.code, authorized.params
        return oauth, self.redeem(oauth, authorized), authorized

    # --- verification as an application would do it
    def jwks(self) -> KeySet:
        import requests

        return KeySet.import_key_set(requests.get(f"{self.base}/oauth2/jwks", timeout=5).json())

    def decode(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        decoded = jwt.decode(token, self.jwks(), algorithms=["RS256", "ES256"])
        return dict(decoded.header), dict(decoded.claims)


def _unescape(value: str) -> str:
    import html

    return html.unescape(value)
