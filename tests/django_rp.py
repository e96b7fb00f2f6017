"""A minimal Django project that signs people in with mozilla-django-oidc, for the interop tests.

Django's settings are global to a process, so `configure` runs once (its database in a
folder the caller gives) and each test sets the OpenID Connect settings of its own application
with `oidc_settings` (Django's `override_settings`). The project is what the library's
documentation asks for and nothing more: its app, its authentication backend, its URLs under
`/oidc/`, and its SessionRefresh middleware. Its URLconf is tests/django_rp_urls.py.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import django
from django.conf import settings
from django.http import HttpRequest

#: where the project is served in the test (`manage.py runserver`'s address): the redirect URI
#: mozilla-django-oidc computes from the request is on it.
HOST = "127.0.0.1:8000"
CALLBACK = f"http://{HOST}/oidc/callback/"


def configure(folder: Path) -> None:
    """Configure Django for this process (once) with a migrated SQLite database in `folder`."""
    if settings.configured:
        return
    settings.configure(
        SECRET_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS=[HOST.split(":")[0]],
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "mozilla_django_oidc"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "mozilla_django_oidc.middleware.SessionRefresh",
        ],
        AUTHENTICATION_BACKENDS=["mozilla_django_oidc.auth.OIDCAuthenticationBackend"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(folder / "django.sqlite3")}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        ROOT_URLCONF="tests.django_rp_urls",
        LOGIN_URL="/oidc/authenticate/",
        LOGOUT_REDIRECT_URL="/",  # Django leaves it None, and the library needs a place to go
        LOGGING_CONFIG=None,  # leave the hub's logging alone
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def oidc_settings(discovery: dict[str, Any], client_id: str, client_secret: str) -> dict[str, Any]:
    """What a team configures: the client id and secret, and the endpoints from the hub's discovery
    document (mozilla-django-oidc reads no discovery). The ID-token algorithm must be named because
    the library's default, HS256, verifies with the client secret; the hub signs with its own key,
    RS256 unless the application was registered with `--id-token-alg ES256`."""
    return {
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": client_secret,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": discovery["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": discovery["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": discovery["userinfo_endpoint"],
        "OIDC_OP_JWKS_ENDPOINT": discovery["jwks_uri"],
        "OIDC_RP_SIGN_ALGO": "RS256",
    }


def hub_logout_settings(discovery: dict[str, Any]) -> dict[str, Any]:
    """The settings (docs/applications.md's recipe) that make the library's logout end the hub
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
