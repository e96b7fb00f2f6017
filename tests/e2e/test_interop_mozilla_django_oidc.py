"""Interoperability: mozilla-django-oidc (Mozilla's Django authentication backend) signs people in
to a minimal Django project (tests/django_rp.py) through the live hub, with the library's defaults.

The application is a default registration (`hub apps create NAME --redirect-uri URI`, nothing
else). The Django settings are the client id and secret and the endpoints from the hub's discovery
document (the library reads none), plus the ID-token algorithm, which the library needs named (its
default is HS256 with the client secret). Every other behaviour is the library's default:
`client_secret_post` at the token endpoint, userinfo with a Bearer header, users found by email,
the session renewed by a `prompt=none` authorization (its SessionRefresh middleware; it uses no
refresh token), and a local logout (it does not call the end-session endpoint unless configured).

The browser is two test clients sharing one person: Django's for the application and the issuer
kit's for the hub, each following the other's redirects by hand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import callback_path
from tests.issuer_kit import IssuerKit, RegisteredApp

pytestmark = pytest.mark.slow


def default_settings(django_project: Any, kit: IssuerKit, registered: RegisteredApp) -> dict[str, Any]:
    assert registered.client_secret
    return django_project.mozilla_settings(django_project.discovery(kit.base), registered.client_id, registered.client_secret)


def sign_in(kit: IssuerKit, app: Any, callback: str) -> dict[str, Any]:
    """Sign in to the Django project: Django sends the browser to the hub, the person allows it
    (the consent page of an application that is not first-party) unless they already did, the hub
    sends the code back, and the library redeems it (client_secret_post), checks the ID token
    (signature from the JWKS, nonce) and reads userinfo (Bearer). Returns the private page's JSON."""
    to_hub = app.get("/private/")
    assert to_hub.status_code == 302 and to_hub["Location"].startswith("/oidc/authenticate/")
    authorize = app.get(to_hub["Location"])
    assert authorize.status_code == 302 and authorize["Location"].startswith(f"{kit.base}/oauth2/authorize?")
    request = parse_qs(urlsplit(authorize["Location"]).query)
    assert request["scope"] == ["openid email"] and "nonce" in request
    back = kit.get(authorize["Location"])
    if back.status_code == 200:
        back = kit.consent(back)
    assert back.status_code == 302 and back.headers["Location"].startswith(callback), back.get_data(as_text=True)[:2000]

    signed_in = app.get(callback_path(back.headers["Location"]))
    assert signed_in.status_code == 302 and signed_in["Location"] == "/private/", signed_in
    page = app.get("/private/")
    assert page.status_code == 200, page
    return page.json()


def test_mozilla_django_oidc_signs_in_renews_the_session_and_signs_out(issuer: IssuerKit, django_project: Any) -> None:
    registered = issuer.register("Intranet (mozilla-django-oidc)", django_project.MOZILLA_CALLBACK)
    issuer.sign_in("alice")

    with django_project.browser(**default_settings(django_project, issuer, registered)) as app:
        person = sign_in(issuer, app, django_project.MOZILLA_CALLBACK)
        assert person["email"] == "alice@example.test"

        # Renewal: once the ID token's time is up (OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS), the
        # SessionRefresh middleware sends the browser to the hub with prompt=none; the hub answers
        # with a code at once (session alive, consent remembered), and the library redeems it again.
        session = app.session
        session["oidc_id_token_expiration"] = 0
        session.save()
        renew = app.get("/private/")
        assert renew.status_code == 302 and renew["Location"].startswith(f"{issuer.base}/oauth2/authorize?")
        assert parse_qs(urlsplit(renew["Location"]).query)["prompt"] == ["none"]
        silent = issuer.get(renew["Location"])
        assert silent.status_code == 302 and silent.headers["Location"].startswith(django_project.MOZILLA_CALLBACK)
        assert "error" not in parse_qs(urlsplit(silent.headers["Location"]).query)
        renewed = app.get(callback_path(silent.headers["Location"]))
        assert renewed.status_code == 302 and renewed["Location"] == "/private/", renewed
        assert app.get("/private/").json() == person  # the same Django user

        # Logout: the library's default ends the Django session only; the hub session goes on.
        out = app.post("/oidc/logout/")
        assert out.status_code == 302 and out["Location"] == "/"
        assert app.get("/private/").status_code == 302
        assert issuer.browser.get("/account").status_code == 200


def test_mozilla_django_oidc_logout_ends_the_hub_session_with_the_documented_recipe(issuer: IssuerKit, django_project: Any) -> None:
    """docs/applications.md: OIDC_STORE_ID_TOKEN and OIDC_OP_LOGOUT_URL_METHOD send the browser
    to the hub's end-session endpoint with the ID token as hint."""
    root = django_project.ROOT
    registered = issuer.register("Intranet (mozilla-django-oidc)", django_project.MOZILLA_CALLBACK, post_logout_redirect_uris=[root])
    issuer.sign_in("alice")
    settings = {**default_settings(django_project, issuer, registered),
                **django_project.hub_logout_settings(django_project.discovery(issuer.base))}

    with django_project.browser(**settings) as app:
        sign_in(issuer, app, django_project.MOZILLA_CALLBACK)
        out = app.post("/oidc/logout/")
        assert out.status_code == 302 and out["Location"].startswith(f"{issuer.base}/oauth2/logout?")
        assert app.get("/private/").status_code == 302  # the Django session ended
        at_hub = issuer.get(out["Location"])
        assert at_hub.status_code == 302 and at_hub.headers["Location"] == root, at_hub.get_data(as_text=True)[:2000]
        assert issuer.browser.get("/account").status_code == 302  # and the hub session
