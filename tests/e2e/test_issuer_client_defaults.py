"""A drop-in OpenID Provider: a client configured with only issuer, client id, secret and redirect
URI signs in, refreshes, reads userinfo and logs out with its library's defaults (issue 16).
Client authentication either way for default registrations, userinfo's token in a form body,
a new ID token on refresh, and refresh retries that do not kill the family."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from hub.core.models import AuditEvent, RefreshToken, TokenFamily, utcnow
from hub.issuer import tokens


def post(issuer, endpoint: str, **kwargs) -> requests.Response:
    return requests.post(f"{issuer.base}/oauth2/{endpoint}", timeout=10, **kwargs)


def refresh_by_post(issuer, app, refresh_token: str) -> requests.Response:
    """A refresh as most client libraries send it by default: the secret in the form body."""
    return post(issuer, "token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": app.client_id, "client_secret": app.client_secret,
    })


def tokens_by_post(issuer, app) -> dict:
    """The code flow of an application that sends its secret in the form body."""
    oauth = issuer.oauth(app, token_endpoint_auth_method="client_secret_post")
    return issuer.redeem(oauth, issuer.authorize(oauth))


def family_of(issuer, refresh_token: str) -> TokenFamily:
    with issuer.rt.db.session() as session:
        row = session.get(RefreshToken, tokens.token_hash(refresh_token))
        return session.get(TokenFamily, row.family_id)


# --- client authentication: basic or post for a default registration ---------------------------


def test_a_default_registration_accepts_the_secret_by_post_and_by_basic_everywhere(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki, token_endpoint_auth_method="client_secret_post")
    token = issuer.redeem(oauth, issuer.authorize(oauth))  # the code, by post
    by_post = refresh_by_post(issuer, wiki, token["refresh_token"])
    assert by_post.status_code == 200, by_post.text
    by_basic = post(issuer, "token", data={"grant_type": "refresh_token",
                                           "refresh_token": by_post.json()["refresh_token"]},
                    auth=(wiki.client_id, wiki.client_secret))
    assert by_basic.status_code == 200, by_basic.text
    newest = by_basic.json()
    as_form = {"client_id": wiki.client_id, "client_secret": wiki.client_secret}
    introspected = post(issuer, "introspect", data={"token": newest["access_token"], **as_form})
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    introspected = post(issuer, "introspect", data={"token": newest["access_token"]},
                        auth=(wiki.client_id, wiki.client_secret))
    assert introspected.json()["active"] is True
    revoked = post(issuer, "revoke", data={"token": newest["refresh_token"], **as_form})
    assert revoked.status_code == 200, revoked.text
    assert family_of(issuer, newest["refresh_token"]).revoked_reason == "revoked_by_application"


@pytest.mark.parametrize("registered, sent", [("client_secret_basic", "post"), ("client_secret_post", "basic")])
def test_an_explicit_auth_method_is_the_only_one_accepted(issuer, registered, sent):
    wiki = issuer.register("Wiki", first_party=True, auth_method=registered)
    for endpoint, data in (("token", {"grant_type": "refresh_token", "refresh_token": "r"}), ("introspect", {"token": "t"}),
                           ("revoke", {"token": "t"})):
        if sent == "post":
            response = post(issuer, endpoint, data={**data, "client_id": wiki.client_id,
                                                    "client_secret": wiki.client_secret})
        else:
            response = post(issuer, endpoint, data=data, auth=(wiki.client_id, wiki.client_secret))
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", (endpoint, response.text)
        assert "authenticates the way it is registered" in response.json()["error_description"]


def test_a_private_key_jwt_application_cannot_use_a_secret(issuer):
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, private=True)
    wiki = issuer.register("Wiki", auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]})
    assert wiki.client_secret  # it has one, but may not authenticate with it
    by_post = refresh_by_post(issuer, wiki, "r")
    by_basic = post(issuer, "token", data={"grant_type": "refresh_token", "refresh_token": "r"},
                    auth=(wiki.client_id, wiki.client_secret))
    assert by_post.status_code == by_basic.status_code == 401
    assert by_post.json()["error"] == by_basic.json()["error"] == "invalid_client"


# --- userinfo: the token in the header or in a form body, never both -----------------------------


def test_userinfo_reads_the_access_token_from_a_form_body(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki)
    in_body = post(issuer, "userinfo", data={"access_token": token["access_token"]})
    assert in_body.status_code == 200, in_body.text
    in_header = requests.get(f"{issuer.base}/oauth2/userinfo", timeout=10,
                             headers={"Authorization": f"Bearer {token['access_token']}"})
    assert in_body.json() == in_header.json() and in_body.json()["email"] == "alice@example.test"
    forged = post(issuer, "userinfo", data={"access_token": "a.b.c"})
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"


def test_userinfo_refuses_a_token_sent_twice(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    _, token, _ = issuer.sign_in_through(wiki)
    both = post(issuer, "userinfo", data={"access_token": token["access_token"]},
                headers={"Authorization": f"Bearer {token['access_token']}"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    assert both.headers["WWW-Authenticate"].startswith(f'Bearer realm="{issuer.base}", error="invalid_request"')
    assert both.headers["Cache-Control"] == "no-store"


# --- refresh: a new ID token about the same sign-in ----------------------------------------------


@pytest.mark.parametrize("scope", ["openid profile email", "openid email offline_access"])
def test_a_refresh_returns_a_new_id_token_about_the_same_sign_in(issuer, scope):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth, token, _ = issuer.sign_in_through(wiki, scope=scope)
    _, first = issuer.decode(token["id_token"])
    refreshed = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=token["refresh_token"])
    header, again = issuer.decode(refreshed["id_token"])
    assert header["kid"]
    for claim in ("iss", "sub", "aud", "azp", "auth_time", "sid", "idp", "email", "amr", "acr"):
        assert again[claim] == first[claim], claim
    assert first["nonce"] and "nonce" not in again
    assert again["iat"] >= first["iat"] and again["exp"] > again["iat"]
    _, access = issuer.decode(refreshed["access_token"])
    assert access["sid"] == first["sid"] and access["sub"] == first["sub"]


def test_a_refresh_without_openid_has_no_id_token(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth, token, _ = issuer.sign_in_through(wiki)
    refreshed = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=token["refresh_token"],
                                    scope="profile")
    assert refreshed["access_token"] and "id_token" not in refreshed


# --- refresh retries within the grace window ------------------------------------------------------
# (registered for client_secret_post, so that these fail before the change for their own reason)


def test_concurrent_presentations_of_one_refresh_token_all_get_working_tokens(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True, auth_method="client_secret_post")
    token = tokens_by_post(issuer, wiki)
    start = threading.Barrier(4)
    answers: list[requests.Response] = []

    def present() -> None:
        start.wait(timeout=10)
        answers.append(refresh_by_post(issuer, wiki, token["refresh_token"]))

    threads = [threading.Thread(target=present) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [answer.status_code for answer in answers] == [200] * 4, [answer.text for answer in answers]
    successors = {answer.json()["refresh_token"] for answer in answers}
    assert len(successors) == 1  # one successor: the family stays a single chain
    for answer in answers:
        info = requests.get(f"{issuer.base}/oauth2/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
        assert info.status_code == 200, info.text
    assert family_of(issuer, token["refresh_token"]).revoked_at is None
    with issuer.rt.db.session() as session:  # one rotation, three forgiven repetitions, all audited
        details = session.scalars(select(AuditEvent.details).where(AuditEvent.type == "issuer.refresh")).all()
        assert sorted(bool(found.get("repeated_within_grace")) for found in details) == [False, True, True, True]
    after = refresh_by_post(issuer, wiki, successors.pop())
    assert after.status_code == 200, after.text


def test_a_presentation_after_the_grace_window_revokes_the_family(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True, auth_method="client_secret_post")
    token = tokens_by_post(issuer, wiki)
    successor = refresh_by_post(issuer, wiki, token["refresh_token"]).json()["refresh_token"]
    with issuer.rt.db.session() as session, session.begin():  # spent longer ago than the window
        session.execute(update(RefreshToken).where(RefreshToken.token_hash == tokens.token_hash(token["refresh_token"]))
                        .values(used_at=utcnow() - timedelta(seconds=issuer.rt.settings.refresh_reuse_grace_seconds + 1)))
    late = refresh_by_post(issuer, wiki, token["refresh_token"])
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    assert family_of(issuer, token["refresh_token"]).revoked_reason == "refresh_reused"
    assert refresh_by_post(issuer, wiki, successor).json()["error"] == "invalid_grant"


def test_another_application_cannot_use_the_grace_window(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True, auth_method="client_secret_post")
    blog = issuer.register("Blog", first_party=True, auth_method="client_secret_post")
    token = tokens_by_post(issuer, wiki)
    successor = refresh_by_post(issuer, wiki, token["refresh_token"]).json()["refresh_token"]
    stolen = refresh_by_post(issuer, blog, token["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert refresh_by_post(issuer, wiki, successor).status_code == 200
    with issuer.rt.db.session() as session:
        assert session.scalars(select(TokenFamily.revoked_at)).all() == [None]
