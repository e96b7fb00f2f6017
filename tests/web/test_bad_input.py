"""Issue 9 §4: every bad input gets a 4xx, never a 500.

A sweep over every route the app registers (app.url_map, so routes added later are swept too)
with hostile path values, query strings and bodies, as an anonymous browser, a signed-in
administrator and an API key; then a hypothesis pass over the values that once reached the
database unchecked (ids, cursors, dates, JSON bodies).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core import apikeys
from hub.core.db import write_transaction
from hub.core.parsing import MAX_BIGINT, MAX_ID, InvalidInput, json_object, parse_day, parse_id, parse_int
from tests.conftest import csrf_of, sign_in

HOSTILE = [
    "²",  # str.isdigit() is true, int() fails
    "٣",  # an Arabic-Indic digit: int() accepts it
    "9" * 30,  # beyond 64 bits
    "2147483648",  # one past PostgreSQL's INTEGER (found by the hypothesis pass below)
    str(2**63),  # one past BIGINT
    "-1",
    "0",
    "+7",
    "x" * 3000,
    "\x00",
    "'; DROP TABLE users; --",
    "\u202e\r\nforged",
]


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": values, "n": False}).encode()).rstrip(b"=").decode()


HOSTILE_CURSORS = [
    _cursor(["2026-01-01T00:00:00+00:00", 10**30]),
    _cursor(["not a time", 1]),
    _cursor([[], {}]),
    _cursor(["9999-12-31T23:59:59+00:00", -(10**30)]),
    _cursor(["2026-01-01T00:00:00", 1]),
    base64.urlsafe_b64encode(b"[1,2]").decode(),
    base64.urlsafe_b64encode(b'"str"').decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "!!!",
]
QUERY_NAMES = ["q", "provider", "state", "sort", "size", "after", "before", "user", "outcome", "type",
               "since", "until", "next", "account", "sid", "iss", "code", "error", "intent", "prompt"]
BODIES: list[Any] = [[1], "str", 123, None, True, {"provider_id": ["x"]}, {"provider_id": "fake", "subject": 5},
                     {"provider_id": "fake", "subject": "\x00"}, {"provider_id": "fake", "email": "\ud800"},
                     {"provider_id": "x" * 5000, "subject": "y" * 5000}, {"a": {"b": [[[[[]]]]]}}]


@pytest.fixture
def hub_config(hub_config: dict[str, Any]) -> dict[str, Any]:
    """The sweep sends thousands of requests from one address: rate limits out of its way
    (tests/web/test_ratelimit.py tests them)."""
    unlimited = "1000000 per minute"
    return {**hub_config, **{f"ratelimit_{name}": unlimited for name in ("signin", "callback", "logout", "api", "anonymous", "public")}}


@pytest.fixture
def actors(app, idp) -> dict[str, Any]:
    admin, user = app.test_client(), app.test_client()
    sign_in(admin, idp, "alice")  # an administrator by her provider role
    sign_in(user, idp, "bob")
    with write_transaction(app.extensions["hub"].db) as session:
        key = apikeys.create(session, "sweep").plaintext
    return {"admin": admin, "user": user, "anonymous": app.test_client(), "key": key, "idp": idp}


def _paths(rule: Any) -> list[str]:
    """The rule's path with each variable replaced by every hostile value (and by 1)."""
    if not rule.arguments:
        return [rule.rule]
    pattern = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
    values = ["1", *HOSTILE]
    return [pattern.sub(value.replace("/", "%2F"), rule.rule) for value in values]


def _requests(rule: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    for path in _paths(rule):
        for method in methods:
            out.append({"method": method, "path": path})
    base = rule.rule if not rule.arguments else _paths(rule)[0]
    for method in methods:
        for value in [*HOSTILE, *HOSTILE_CURSORS]:
            out.append({"method": method, "path": base, "query_string": {name: value for name in QUERY_NAMES}})
        if method == "POST":
            for body in BODIES:
                out.append({"method": method, "path": base, "json": body})
            for value in HOSTILE:
                out.append({"method": method, "path": base, "form": {"account": value, "confirm": "yes", "logout_token": value}})
    return out


def test_every_route_answers_hostile_input_without_a_5xx(app, actors):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    assert len(rules) >= 20  # the sweep sees the whole app
    failures: list[str] = []
    tried = 0
    csrf = {who: csrf_of(actors[who], "/login" if who == "anonymous" else "/account") for who in ("anonymous", "admin", "user")}
    for rule in rules:
        for request in _requests(rule):
            # Query strings matter once a view runs: the administrator's session reaches furthest.
            for who in ("admin",) if "query_string" in request and request["query_string"] else ("anonymous", "admin", "user"):
                client = actors[who]
                kwargs: dict[str, Any] = {"query_string": request.get("query_string")}
                headers = {"Authorization": f"Bearer {actors['key']}"} if request["path"].startswith("/api/") else {}
                if "json" in request:
                    kwargs["json"] = request["json"]
                if "form" in request:
                    kwargs["data"] = {**request["form"], "csrf_token": csrf[who]}
                elif request["method"] == "POST" and "json" not in request:
                    kwargs["data"] = {"csrf_token": csrf[who]}
                response = client.open(request["path"], method=request["method"], headers=headers, **kwargs)
                tried += 1
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append(f"{who} {request} -> {response.status_code}")
            for who, person in (("admin", "alice"), ("user", "bob")):
                if actors[who].get("/account").status_code != 200:  # POST /logout signed them out
                    actors[who] = app.test_client()
                    sign_in(actors[who], actors["idp"], person)
                    csrf[who] = csrf_of(actors[who], "/account")
    assert not failures, f"{len(failures)} of {tried} requests failed:\n" + "\n".join(failures[:30])


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/99999999999999999999",
        "/admin/users/2147483648",
        "/admin/users/%C2%B2",
        "/api/v1/accounts/99999999999999999999/access-token",
    ],
)
def test_ids_beyond_64_bits_or_not_ascii_are_404(app, actors, path):
    client = actors["admin"]
    headers = {"Authorization": f"Bearer {actors['key']}"}
    response = client.open(path, method="POST" if path.startswith("/api/") else "GET", headers=headers)
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["user=99999999999999999999", "user=2147483648", "user=%C2%B2", "before=99999999999999999999",
                                   "before=%C2%B2", "since=%D9%A3%D9%A3%D9%A3%D9%A3-01-01", "until=9999-12-31",
                                   "since=2026-02-30"])
def test_audit_filters_out_of_range_are_400_not_500(actors, query):
    response = actors["admin"].get(f"/admin/audit?{query}")
    assert response.status_code in {200, 400}, response.status_code
    assert response.status_code == 400 or query == "until=9999-12-31"


@pytest.mark.parametrize("body", [[1], "str", 123])
def test_api_bodies_must_be_json_objects(app, actors, body):
    response = app.test_client().post(
        "/api/v1/access-token", json=body, headers={"Authorization": f"Bearer {actors['key']}"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_keyset_cursor_with_a_huge_id_is_400(actors):
    response = actors["admin"].get(f"/admin/accounts?after={HOSTILE_CURSORS[0]}")
    assert response.status_code == 400


# --- the parsing helper, and a hypothesis pass --------------------------------------------------


def test_parse_id_accepts_ascii_digits_within_64_bits_only():
    assert parse_id("42", "id") == 42 and parse_id(str(MAX_ID), "id") == MAX_ID
    for bad in ["²", "٣", "+7", " 7", "7_0", "", "0", str(MAX_ID + 1), "-1", None, True, 1.5]:
        with pytest.raises(InvalidInput):
            parse_id(bad, "id")
    assert parse_int("0", "size") == 0
    with pytest.raises(InvalidInput):
        parse_day("２０２６-01-01", "since")


@given(st.text(max_size=40))
def test_parse_int_either_returns_a_bounded_int_or_raises_invalid_input(text):
    try:
        value = parse_int(text, "n")
    except InvalidInput:
        return
    assert 0 <= value <= MAX_BIGINT and text.isascii() and text.isdigit()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_json_object_accepts_only_objects_of_storable_text(value):
    storable = all("\x00" not in text and not re.search("[\ud800-\udfff]", text) for text in _texts(value))
    if isinstance(value, dict) and storable:
        assert json_object(value) is value
    else:
        with pytest.raises(InvalidInput):
            json_object(value)


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *_texts(item)]]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return [value] if isinstance(value, str) else []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["/admin/accounts?after=", "/admin/accounts?size=", "/admin/audit?before=",
                     "/admin/audit?user=", "/admin/audit?since=", "/admin/users/", "/admin/accounts?q="]),
    st.text(max_size=30) | st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
def test_hypothesis_admin_values_never_5xx(actors, prefix, value):
    from urllib.parse import quote

    response = actors["admin"].get(prefix + quote(value, safe=""))
    assert response.status_code < 500, (prefix, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(JSON_VALUES)
def test_hypothesis_api_bodies_never_5xx(app, actors, body):
    response = app.test_client().post(
        "/api/v1/access-token", json=body, headers={"Authorization": f"Bearer {actors['key']}"}
    )
    assert response.status_code < 500 or response.status_code == 503, body
