"""The issuer's answers checked against the letter of the specifications a strict client reads:
OpenID Connect Discovery 1.0 and RFC 8414 metadata, JWKS caching, RFC 9207 `iss` on every
authorization response (errors too), RFC 6749 §5.2 token errors (JSON, no-store, 401 with a
Basic challenge carrying RFC 7617's realm), RFC 6750 §3.1 challenges at userinfo.

tests/e2e/test_issuer_interop.py runs an independent certified client library against the same."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

OIDC_REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                 "subject_types_supported", "id_token_signing_alg_values_supported")
JWT_AUTH_METHODS = {"private_key_jwt", "client_secret_jwt"}


def test_metadata_has_every_required_field_and_no_empty_list(issuer):  # noqa: F811
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        response = requests.get(issuer.base + path, timeout=5)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        metadata = response.json()
        assert all(metadata.get(name) for name in OIDC_REQUIRED), path
        assert metadata["issuer"] == issuer.base  # RFC 8414 §3.3: identical to the issuer asked for
        assert "RS256" in metadata["id_token_signing_alg_values_supported"]  # OIDC Discovery §3
        assert not [name for name, value in metadata.items() if value == []], "empty lists say nothing"
        assert {"sub", "iss", "aud", "sid", "auth_time", "amr", "acr"} <= set(metadata["claims_supported"])
        # RFC 8414 §2: signing algorithms are required wherever a JWT client assertion is accepted.
        for endpoint in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
            if JWT_AUTH_METHODS & set(metadata[f"{endpoint}_auth_methods_supported"]):
                algs = metadata[f"{endpoint}_auth_signing_alg_values_supported"]
                assert algs and "none" not in algs, endpoint


def test_jwks_is_cacheable_for_less_time_than_discovery(issuer):  # noqa: F811
    jwks = requests.get(f"{issuer.base}/oauth2/jwks", timeout=5)
    assert jwks.status_code == 200
    max_age = int(jwks.headers["Cache-Control"].removeprefix("public, max-age="))
    assert 0 < max_age <= 3600
    assert all(key["kid"] and key["use"] == "sig" and "d" not in key for key in jwks.json()["keys"])


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"prompt": "none"}, "login_required"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),  # RFC 6749 §4.1.2.1: a missing parameter
        ({"scope": "openid unheard-of"}, "invalid_scope"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://app.example/request.jwt"}, "request_uri_not_supported"),
        ({"registration": "{}"}, "registration_not_supported"),
    ],
)
def test_every_authorization_error_carries_iss_and_state(issuer, params, error):  # noqa: F811
    wiki = issuer.register("Wiki", first_party=True)
    query = {"client_id": wiki.client_id, "redirect_uri": wiki.redirect_uri, "response_type": "code",
             "scope": "openid", "state": "s-1", **params}
    query = {name: value for name, value in query.items() if value is not None}
    response = requests.get(f"{issuer.base}/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == wiki.redirect_uri
    answered = parse_qs(location.query)
    assert answered["error"] == [error] and answered["state"] == ["s-1"] and answered["iss"] == [issuer.base]


def _token(issuer, **kwargs):  # noqa: F811
    return requests.post(f"{issuer.base}/oauth2/token", timeout=5, **kwargs)


def _is_rfc6749_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error"] == error


def test_token_errors_are_rfc6749_json(issuer):  # noqa: F811
    wiki = issuer.register("Wiki", first_party=True)
    basic = (wiki.client_id, wiki.client_secret)
    code = {"grant_type": "authorization_code", "code": "no-such-code", "redirect_uri": wiki.redirect_uri}
    _is_rfc6749_error(_token(issuer, data=code, auth=basic), 400, "invalid_grant")
    _is_rfc6749_error(_token(issuer, data={"grant_type": "password"}, auth=basic), 400, "unsupported_grant_type")
    _is_rfc6749_error(_token(issuer, data={"code": "c"}, auth=basic), 400, "invalid_request")  # no grant_type
    _is_rfc6749_error(_token(issuer, data={"grant_type": "authorization_code"}, auth=basic), 400, "invalid_request")
    _is_rfc6749_error(_token(issuer, data={"grant_type": "client_credentials"}, auth=basic), 400, "unauthorized_client")


@pytest.mark.parametrize("who", ["wrong secret", "unknown client"])
def test_failed_basic_authentication_is_401_with_a_basic_challenge(issuer, who):  # noqa: F811
    wiki = issuer.register("Wiki", first_party=True)
    credentials = (wiki.client_id, "not-the-secret") if who == "wrong secret" else ("no-such-app", "x")
    response = _token(issuer, data={"grant_type": "refresh_token", "refresh_token": "r"}, auth=credentials)
    _is_rfc6749_error(response, 401, "invalid_client")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Basic realm="{issuer.base}", error="invalid_client", error_description="')
    # One answer for both: the response does not tell which client ids exist.
    assert "check the client id and secret" in response.json()["error_description"]
    assert "[" not in response.json()["error_description"]


def test_failed_post_authentication_is_invalid_client(issuer):  # noqa: F811
    wiki = issuer.register("Wiki", first_party=True, auth_method="client_secret_post")
    response = _token(issuer, data={"grant_type": "refresh_token", "refresh_token": "r",
                                    "client_id": wiki.client_id, "client_secret": "not-the-secret"})
    _is_rfc6749_error(response, 401, "invalid_client")


def test_introspection_and_revocation_refuse_bad_clients_the_same_way(issuer):  # noqa: F811
    wiki = issuer.register("Wiki", first_party=True)
    for endpoint in ("introspect", "revoke"):
        response = requests.post(f"{issuer.base}/oauth2/{endpoint}", data={"token": "t"},
                                 auth=(wiki.client_id, "not-the-secret"), timeout=5)
        _is_rfc6749_error(response, 401, "invalid_client")
        assert response.headers["WWW-Authenticate"].startswith(f'Basic realm="{issuer.base}"')


@pytest.mark.parametrize("authorization", [None, "Basic Zm9vOmJhcg==", "Bearer"])
def test_userinfo_without_a_bearer_token_is_a_plain_bearer_challenge(issuer, authorization):  # noqa: F811
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{issuer.base}/oauth2/userinfo", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="{issuer.base}"'
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"])
def test_a_wrong_method_at_a_back_channel_endpoint_is_the_rfcs_json_error(client, path):
    response = client.get(path)
    assert response.status_code == 405
    assert response.is_json and response.get_json()["error"] == "invalid_request"
    assert "POST" in response.headers["Allow"]
