"""A minimal Django project that signs people in through the hub, for the interop tests: with
mozilla-django-oidc (under `/oidc/`) and with python-social-auth's OpenID Connect backend (under
`/social/`).

Django's settings are global to a process, so `configure` runs once (its database in a folder the
caller gives) and each test sets the settings of its own application with `mozilla_settings` or
`social_settings` (Django's `override_settings`). The project is what each library's documentation
asks for and nothing more: its app and its URLs, and per test its authentication backend and
mozilla-django-oidc's SessionRefresh middleware (each library's settings bring their own, since
both read their settings when Django calls them). Its URLconf is tests/django_rp_urls.py.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import django
import requests
from django.conf import settings
from django.http import HttpRequest
from django.test import Client, override_settings

#: where the project is served in the test (`manage.py runserver`'s address): the libraries
#: compute their redirect URIs from the request, so these are on it.
HOST = "127.0.0.1:8000"
ROOT = f"http://{HOST}/"
MOZILLA_CALLBACK = f"{ROOT}oidc/callback/"
SOCIAL_CALLBACK = f"{ROOT}social/complete/oidc/"


MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def configure(folder: Path) -> None:
    """Configure Django for this process (once) with a migrated SQLite database in `folder`."""
    if settings.configured:
        return
    settings.configure(
        SECRET_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS=[HOST.split(":")[0]],
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "mozilla_django_oidc", "social_django"],
        MIDDLEWARE=MIDDLEWARE,
        DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3", "NAME": str(folder / "django.sqlite3"),
            "OPTIONS": {"init_command": "PRAGMA synchronous=OFF"},  # a throwaway database: no fsyncs
        }},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        ROOT_URLCONF="tests.django_rp_urls",
        LOGIN_URL="/oidc/authenticate/",
        LOGOUT_REDIRECT_URL="/",  # Django leaves it None, and the library needs a place to go
        LOGGING_CONFIG=None,  # leave the hub's logging alone
        USE_TZ=True,
    )
    with warnings.catch_warnings():
        # social-auth-core imports python3-openid (OpenID 2.0), which asks defusedxml for its
        # deprecated cElementTree once, at import: not ours to fix, and nothing the tests use.
        warnings.filterwarnings("ignore", "defusedxml.cElementTree is deprecated", DeprecationWarning)
        django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@contextmanager
def browser(**overrides: Any) -> Iterator[Client]:
    """Django's test client on the project with these settings; the users and sessions it made
    are deleted afterwards."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    with override_settings(**overrides):
        try:
            yield Client(HTTP_HOST=HOST)
        finally:
            get_user_model().objects.all().delete()
            Session.objects.all().delete()


def discovery(issuer: str) -> dict[str, Any]:
    """The hub's discovery document, which a team reads the endpoint URLs from."""
    return requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()


def mozilla_settings(discovery: dict[str, Any], client_id: str, client_secret: str) -> dict[str, Any]:
    """What a team configures for mozilla-django-oidc: the client id and secret, and the endpoints from the hub's discovery
    document (mozilla-django-oidc reads no discovery). The ID-token algorithm must be named because
    the library's default, HS256, verifies with the client secret; the hub signs with its own key,
    RS256 unless the application was registered with `--id-token-alg ES256`."""
    return {
        "AUTHENTICATION_BACKENDS": ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"],
        "MIDDLEWARE": [*MIDDLEWARE, "mozilla_django_oidc.middleware.SessionRefresh"],
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": client_secret,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": discovery["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": discovery["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": discovery["userinfo_endpoint"],
        "OIDC_OP_JWKS_ENDPOINT": discovery["jwks_uri"],
        "OIDC_RP_SIGN_ALGO": "RS256",
    }


def social_settings(issuer: str, client_id: str, client_secret: str) -> dict[str, Any]:
    """What a team configures for python-social-auth's generic OpenID Connect backend: the issuer
    (it reads discovery), the client id and the secret."""
    return {
        "AUTHENTICATION_BACKENDS": ["social_core.backends.open_id_connect.OpenIdConnectAuth"],
        "SOCIAL_AUTH_OIDC_OIDC_ENDPOINT": issuer,
        "SOCIAL_AUTH_OIDC_KEY": client_id,
        "SOCIAL_AUTH_OIDC_SECRET": client_secret,
    }


def hub_logout_settings(discovery: dict[str, Any]) -> dict[str, Any]:
    """The settings (docs/applications.md's recipe) that make mozilla-django-oidc's logout end the hub
    session too: keep the ID token, and build the end-session URL with `end_session_url`."""
    return {
        "OIDC_STORE_ID_TOKEN": True,
        "OIDC_OP_LOGOUT_URL_METHOD": f"{__name__}.end_session_url",
        "HUB_END_SESSION_ENDPOINT": discovery["end_session_endpoint"],
    }


def end_session_url(request: HttpRequest) -> str:
    """Where mozilla-django-oidc's logout view sends the browser (OIDC_OP_LOGOUT_URL_METHOD): the
    hub's end-session endpoint with the ID token as hint and the site's root to come back to
    (registered with `--post-logout-redirect-uri`)."""
    return f"{settings.HUB_END_SESSION_ENDPOINT}?" + urlencode({
        "id_token_hint": request.session["oidc_id_token"],
        "post_logout_redirect_uri": request.build_absolute_uri("/"),
    })
