"""What applications know a person and a session by: a random public `sub` (never the database
id, never reused), and a `sid` of each application's own, the same in its ID, access and
back-channel logout tokens, so pairwise applications cannot join their sign-ins by it."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import requests
from sqlalchemy import select

from hub.core.models import BackchannelLogout, User
from hub.issuer import sso
from tests.conftest import csrf_of


def alice(issuer) -> User:
    with issuer.rt.db.session() as session:
        return session.scalars(select(User)).one()


def test_sub_is_the_random_public_subject_everywhere_never_the_database_id(issuer):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth, token, _ = issuer.sign_in_through(wiki, scope="openid profile email offline_access")
    person = alice(issuer)
    _, claims = issuer.decode(token["id_token"])
    assert claims["sub"] == person.public_subject != str(person.id)
    assert uuid.UUID(claims["sub"]).version == 4
    assert issuer.decode(token["access_token"])[1]["sub"] == claims["sub"]
    assert oauth.get(f"{issuer.base}/oauth2/userinfo").json()["sub"] == claims["sub"]
    introspected = requests.post(
        f"{issuer.base}/oauth2/introspect", data={"token": token["refresh_token"]},
        auth=(wiki.client_id, wiki.client_secret), timeout=5,
    ).json()
    assert introspected["active"] and introspected["sub"] == claims["sub"]


def test_each_new_user_gets_a_different_unguessable_subject(issuer):
    with issuer.rt.db.session() as session, session.begin():
        people = [User(display_name=f"Person {n}") for n in range(3)]
        session.add_all(people)
        session.flush()
        subjects = [person.public_subject for person in people]
        ids = [str(person.id) for person in people]
    assert len(set(subjects)) == 3 and not set(subjects) & set(ids)


def test_two_pairwise_applications_get_different_sids_each_stable_in_its_tokens(issuer):
    issuer.sign_in("alice")
    one = issuer.register("One", first_party=True, pairwise_subject=True)
    two = issuer.register("Two", first_party=True, pairwise_subject=True, redirect_uri="https://two.example/cb")
    _, first_token, _ = issuer.sign_in_through(one)
    _, second_token, _ = issuer.sign_in_through(two)
    first, second = issuer.decode(first_token["id_token"])[1], issuer.decode(second_token["id_token"])[1]
    assert first["sub"] != second["sub"]
    assert first["sid"] and second["sid"] and first["sid"] != second["sid"]  # one hub session, not joinable
    assert issuer.decode(first_token["access_token"])[1]["sid"] == first["sid"]
    again = issuer.decode(issuer.sign_in_through(one)[1]["id_token"])[1]
    assert again["sid"] == first["sid"]  # the same hub session, the same sid for this application


def test_each_application_is_told_of_the_logout_with_the_sid_it_saw(issuer):
    receivers = {"One": "https://one.example/backchannel", "Two": "https://two.example/backchannel"}
    for uri in receivers.values():
        issuer.idp.mock.post(uri, status=200)
    issuer.sign_in("alice")
    seen = {}
    for name, uri in receivers.items():
        registered = issuer.register(name, first_party=True, pairwise_subject=True,
                                     redirect_uri=f"https://{name.lower()}.example/cb", backchannel_logout_uri=uri)
        seen[uri] = issuer.decode(issuer.sign_in_through(registered)[1]["id_token"])[1]
    browser = issuer.browser
    assert browser.post("/logout", data={"csrf_token": csrf_of(browser, "/account")}).status_code == 303
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        issuer.rt.backchannel.run_once()
        with issuer.rt.db.session() as session:
            if set(session.scalars(select(BackchannelLogout.state))) == {"delivered"}:
                break
        time.sleep(0.05)
    told = {}
    for call in issuer.idp.mock.calls:
        if call.request.url in receivers.values():
            body = urllib.parse.parse_qs(call.request.body)
            told[call.request.url] = issuer.decode(body["logout_token"][0])[1]
    assert set(told) == set(receivers.values())
    for uri, logout in told.items():
        assert (logout["sid"], logout["sub"]) == (seen[uri]["sid"], seen[uri]["sub"])


def test_sessions_from_before_per_application_sids_keep_their_shared_sid():
    key = b"k" * 32
    assert sso.application_sid(key, "legacySid123", "one") == "legacySid123"
    current = sso.new_sid()
    assert sso.application_sid(key, current, "one") != sso.application_sid(key, current, "two")
    assert sso.application_sid(key, current, "one") == sso.application_sid(key, current, "one") != current
