"""Interoperability: python-social-auth (social-auth-core with social-auth-app-django, the Django
integration) signs people in to the interop tests' Django project (tests/django_rp.py) through the
live hub with its generic OpenID Connect backend and its defaults.

The application is a default registration (`hub apps create NAME --redirect-uri URI`); the
settings are the issuer (the library reads discovery), the client id and the secret. Every other
behaviour is the library's: it picks `client_secret_basic` for the code because discovery lists
it, validates the ID token (signature from the JWKS, iss, aud, nonce, at_hash), reads userinfo
with a Bearer header and checks its `sub` against the ID token's, keys the Django user on `sub`,
and refreshes with the secret in the body (`client_secret_post`). It has no RP-initiated logout.
"""

from __future__ import annotations

from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import callback_path
from tests.issuer_kit import IssuerKit

pytestmark = pytest.mark.slow


def test_social_auth_signs_in_by_discovery_and_refreshes(issuer: IssuerKit, django_project: ModuleType) -> None:
    registered = issuer.register("Tickets (python-social-auth)", django_project.SOCIAL_CALLBACK)
    assert registered.client_secret
    issuer.sign_in("alice")
    settings = django_project.social_settings(issuer.base, registered.client_id, registered.client_secret)

    with django_project.browser(**settings) as app:
        to_hub = app.post("/social/login/oidc/", {"next": "/private/"})  # a form button: POST since 8.0
        assert to_hub.status_code == 302 and to_hub["Location"].startswith(f"{issuer.base}/oauth2/authorize?")
        request = parse_qs(urlsplit(to_hub["Location"]).query)
        assert request["redirect_uri"] == [django_project.SOCIAL_CALLBACK] and "nonce" in request
        consent_page = issuer.get(to_hub["Location"])
        assert consent_page.status_code == 200, consent_page.get_data(as_text=True)[:2000]
        back = issuer.consent(consent_page)
        assert back.status_code == 302 and back.headers["Location"].startswith(django_project.SOCIAL_CALLBACK)

        completed = app.get(callback_path(back.headers["Location"]))
        assert completed.status_code == 302 and completed["Location"] == "/private/", completed
        page = app.get("/private/")
        assert page.status_code == 200 and page.json()["email"] == "alice@example.test"

        from social_django.models import UserSocialAuth
        from social_django.utils import load_strategy

        linked = UserSocialAuth.objects.get(provider="oidc")
        _, id_claims = issuer.decode(linked.extra_data["id_token"])
        assert linked.uid == id_claims["sub"]
        first = dict(linked.extra_data)

        linked.refresh_token(load_strategy())  # the library's refresh: the secret in the body
        linked.refresh_from_db()
        assert linked.extra_data["access_token"] != first["access_token"]
        assert linked.extra_data["refresh_token"] != first["refresh_token"]  # rotated
