"""The demo's example application as a back-channel logout receiver (Back-Channel Logout 1.0
section 2.6): a valid logout token ends exactly the sessions of the hub session it names; every
malformed one is refused with 400 and ends nothing. The hub's discovery and JWKS are mocked at
the HTTP layer; the signed-in sessions are put in the app's store directly."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from hub_demo.example_app import BACKCHANNEL_LOGOUT_EVENT, LocalSession, SessionStore, create_example_app

ISSUER = "http://127.0.0.1:5001"
CLIENT_ID = "example-client"
APP_URL = "http://127.0.0.1:5003"
HUB_KEY = RSAKey.generate_key(2048, parameters={"kid": "hub-key-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "hub-key-1"})


@pytest.fixture
def hub_metadata() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            f"{ISSUER}/.well-known/openid-configuration",
            json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/oauth2/authorize",
                "token_endpoint": f"{ISSUER}/oauth2/token",
                "jwks_uri": f"{ISSUER}/oauth2/jwks",
                "end_session_endpoint": f"{ISSUER}/oauth2/logout",
                "id_token_signing_alg_values_supported": ["RS256"],
            },
        )
        mock.get(f"{ISSUER}/oauth2/jwks", json={"keys": [HUB_KEY.as_dict(private=False)]})
        yield mock


@pytest.fixture
def example(hub_metadata) -> tuple[FlaskClient, SessionStore]:
    app = create_example_app(issuer=ISSUER, client_id=CLIENT_ID, client_secret="s3cret-example", base_url=APP_URL)
    return app.test_client(), app.extensions["example_app"]


def signed_in(store: SessionStore, sid: str, sub: str = "user-1") -> str:
    return store.create(LocalSession(claims={"sid": sid, "sub": sub}, id_token="x.y.z", access_token=None, refresh_token=None))


def logout_token(key: Any = HUB_KEY, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": int(time.time()),
        "exp": int(time.time()) + 120,
        "jti": str(uuid.uuid4()),
        "sid": "hub-session-1",
        "sub": "user-1",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(header or {"alg": "RS256", "kid": "hub-key-1", "typ": "logout+jwt"}, claims, key)


def post(client: FlaskClient, token: str) -> Any:
    return client.post("/backchannel-logout", data={"logout_token": token})


def test_a_valid_logout_token_ends_the_sessions_of_that_hub_session_only(example):
    client, store = example
    doomed = signed_in(store, "hub-session-1")
    kept = signed_in(store, "hub-session-2")
    answer = post(client, logout_token())
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert store.get(doomed) is None and store.get(kept) is not None
    client.set_cookie("example_session", kept)
    assert client.get("/whoami").status_code == 200
    client.set_cookie("example_session", doomed)
    assert client.get("/whoami").status_code == 401


def test_a_logout_token_without_sid_ends_every_session_of_the_person(example):
    client, store = example
    first, second = signed_in(store, "a", "user-1"), signed_in(store, "b", "user-1")
    other_person = signed_in(store, "c", "user-2")
    assert post(client, logout_token(sid=None)).status_code == 200
    assert store.get(first) is None and store.get(second) is None and store.get(other_person) is not None


def _hs256() -> str:
    return logout_token(key=OctKey.generate_key(256), header={"alg": "HS256", "kid": "hub-key-1"})


def _alg_none() -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    return f"{header}.{logout_token().split('.')[1]}."


BAD_TOKENS = {
    "alg none": _alg_none,
    "HS256 with a made-up key": _hs256,
    "signed by another key": lambda: logout_token(key=OTHER_KEY),
    "another issuer": lambda: logout_token(iss="http://127.0.0.1:9999"),
    "another audience": lambda: logout_token(aud="someone-else"),
    "no events": lambda: logout_token(events=None),
    "wrong event": lambda: logout_token(events={"http://schemas.openid.net/event/other": {}}),
    "with a nonce": lambda: logout_token(nonce="n-1"),
    "no jti": lambda: logout_token(jti=None),
    "no sid nor sub": lambda: logout_token(sid=None, sub=None),
    "issued an hour ago": lambda: logout_token(iat=int(time.time()) - 3600, exp=None),
    "an ID token's typ": lambda: logout_token(header={"alg": "RS256", "kid": "hub-key-1", "typ": "id_token+jwt"}),
    "not a JWT": lambda: "not-a-jwt",
    "empty": lambda: "",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_an_invalid_logout_token_is_refused_and_ends_nothing(example, case):
    client, store = example
    session_id = signed_in(store, "hub-session-1")
    answer = post(client, BAD_TOKENS[case]())
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"
    assert store.get(session_id) is not None


def test_a_replayed_logout_token_is_refused(example):
    client, store = example
    token = logout_token()
    assert post(client, token).status_code == 200
    again = signed_in(store, "hub-session-1")
    assert post(client, token).status_code == 400
    assert store.get(again) is not None


def test_a_rotated_hub_key_is_fetched_once_more(example, hub_metadata):
    client, store = example
    assert post(client, logout_token(sid="warm-up")).status_code == 200  # JWKS cached
    new_key = RSAKey.generate_key(2048, parameters={"kid": "hub-key-2"})
    hub_metadata.replace(responses.GET, f"{ISSUER}/oauth2/jwks", json={"keys": [new_key.as_dict(private=False)]})
    session_id = signed_in(store, "hub-session-1")
    token = logout_token(key=new_key, header={"alg": "RS256", "kid": "hub-key-2", "typ": "logout+jwt"})
    assert post(client, token).status_code == 200
    assert store.get(session_id) is None


def test_signed_out_home_page_offers_sign_in(example):
    client, _ = example
    page = client.get("/").get_data(as_text=True)
    assert "You are not signed in." in page and 'href="/login"' in page
