"""Unauthenticated requests cost bounded storage (issue 9, section 3, and the jti half of 5):
pending sign-ins capped per browser and in all, `next` capped, failures anyone can cause
audited in aggregate, a front-channel logout that ended nothing is no success, and a replayed
back-channel logout token is refused by every process sharing the database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from hub.app import create_app
from hub.core.config import load_settings
from hub.core.models import AuditEvent, PendingSignin, SeenLogoutToken, WebSession, utcnow
from hub.upstream import replay
from hub.web import flood, ratelimit
from tests.conftest import callback_path, csrf_of, sign_in, start_signin
from tests.fakeidp import logout_token

UNLIMITED = {
    "ratelimit_signin": "100000 per minute",
    "ratelimit_callback": "100000 per minute",
    "ratelimit_logout": "100000 per minute",
    "ratelimit_anonymous": "100000 per minute",
}


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts per fixed window (a burst's one audit event, aggregated failures): hold the
    window still, so a test that happens to cross a minute boundary sees one window."""
    monkeypatch.setattr(ratelimit.RateLimits, "window_clock", staticmethod(lambda: 1_000_000_020.0))


def make_app(hub_config: dict[str, Any], plugins: Any, **settings: Any) -> Flask:
    return create_app(settings=load_settings(environ={}, overrides={**hub_config, **UNLIMITED, **settings}), plugins=plugins)


@pytest.fixture
def app(hub_config, plugins) -> Iterator[Flask]:
    """The hub with rate limits out of the way, to measure storage alone."""
    app = make_app(hub_config, plugins)
    yield app
    app.extensions["hub"].close()


def rows(app: Flask, model: Any, *where: Any) -> int:
    with app.extensions["hub"].db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def events(app: Flask, type_: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if type_:
        query = query.where(AuditEvent.type == type_)
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(query))


# --- pending sign-ins -----------------------------------------------------------------------


def test_one_browser_keeps_at_most_five_pending_signins_and_the_newest_still_work(app, idp):
    client = app.test_client()
    token = csrf_of(client)
    urls = []
    for _ in range(300):
        response = client.post("/auth/fake/start", data={"csrf_token": token, "next": "/account?" + "x" * 400})
        assert response.status_code == 303
        urls.append(response.headers["Location"])
    assert rows(app, PendingSignin) == 5  # was 300: one row per POST
    assert client.get(callback_path(idp.authorize(urls[0]))).status_code == 400  # the oldest was dropped
    assert client.get(callback_path(idp.authorize(urls[-1]))).status_code == 302


def test_the_cap_per_browser_is_a_setting(hub_config, plugins):
    app = make_app(hub_config, plugins, pending_signins_per_browser=2)
    client = app.test_client()
    for _ in range(6):
        start_signin(client)
    assert rows(app, PendingSignin) == 2
    app.extensions["hub"].close()


@pytest.mark.parametrize("length", [2049, 5000, 100_000])
def test_a_long_next_falls_back_to_the_start_page(app, idp, length):
    client = app.test_client()
    url = start_signin(client, next="/account?q=" + "x" * (length - 11))
    with app.extensions["hub"].db.session() as session:
        assert session.scalars(select(PendingSignin.next_path)).one() == "/"
    assert client.get(callback_path(idp.authorize(url))).headers["Location"] in {"/", "/account"}  # where / leads


def test_a_next_of_2048_characters_is_kept(app, idp):
    """As long as the issuer's resumed authorization requests (hub.web.views.issuer.MAX_RESUME_LENGTH)."""
    client = app.test_client()
    next_path = "/account?q=" + "x" * 2037
    url = start_signin(client, next=next_path)
    assert client.get(callback_path(idp.authorize(url))).headers["Location"] == next_path


def test_a_full_table_refuses_new_signins_with_a_page_and_one_audit_event(hub_config, plugins):
    app = make_app(hub_config, plugins, pending_signins_max=5)
    answers = []
    for _ in range(40):  # forty browsers, one sign-in each
        browser = app.test_client()
        answers.append(browser.post("/auth/fake/start", data={"csrf_token": csrf_of(browser)}))
    assert [a.status_code for a in answers[:5]] == [303] * 5
    assert {a.status_code for a in answers[5:]} == {503}
    page = answers[5].get_data(as_text=True)
    assert "Too many sign-ins under way" in page and "Wait a few minutes" in page
    assert rows(app, PendingSignin) == 5
    (event,) = events(app, "signin")
    assert (event.outcome, event.details["reason"], event.details["counted_per"]) == ("failure", "signins_busy", "hub")
    assert len(events(app)) == 1  # no refusal event per request either
    app.extensions["hub"].close()


def test_expired_pending_signins_make_room_in_a_full_table(hub_config, plugins):
    app = make_app(hub_config, plugins, pending_signins_max=3)
    for _ in range(3):
        start_signin(app.test_client())
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(PendingSignin).values(expires_at=utcnow() - timedelta(seconds=1)))
    start_signin(app.test_client())
    assert rows(app, PendingSignin) == 1
    app.extensions["hub"].close()


def test_storage_stays_bounded_when_many_browsers_post_many_times(hub_config, plugins):
    app = make_app(hub_config, plugins, pending_signins_max=50)
    for _ in range(30):
        browser = app.test_client()
        token = csrf_of(browser)
        for _ in range(10):
            browser.post("/auth/fake/start", data={"csrf_token": token, "next": "/" + "y" * 2047})
    assert rows(app, PendingSignin) <= 50
    with app.extensions["hub"].db.session() as session:
        assert max(len(p) for p in session.scalars(select(PendingSignin.next_path))) <= 2048
    app.extensions["hub"].close()


# --- failures anyone can cause, audited in aggregate ----------------------------------------


def test_milestones_are_one_and_the_powers_of_ten():
    assert [n for n in range(1, 2001) if flood.is_milestone(n)] == [1, 10, 100, 1000]


def test_400_forged_frontchannel_logouts_write_a_handful_of_events_not_400(app):
    client = app.test_client()
    for n in range(200):
        assert client.get(f"/auth/fake/frontchannel-logout?sid=forged-{n}").status_code == 200
    for _ in range(200):
        assert client.get("/auth/fake/frontchannel-logout").status_code == 400  # no sid
    logged = events(app, "logout")
    assert all(e.outcome == "failure" for e in logged)  # ended nothing: never a success
    assert [(e.details["reason"], e.details["count"]) for e in logged] == [
        ("no_session_matched", 1), ("no_session_matched", 10), ("no_session_matched", 100),
        ("logout_request_invalid", 1), ("logout_request_invalid", 10), ("logout_request_invalid", 100),
    ]


def test_400_bogus_callbacks_write_a_handful_of_events(app):
    client = app.test_client()
    for n in range(400):
        assert client.get(f"/auth/fake/callback?code=c&state=bogus-{n}").status_code == 400
    logged = events(app)
    assert [(e.type, e.details["reason"], e.details["count"]) for e in logged] == [
        ("signin", "state_unknown", 1), ("signin", "state_unknown", 10), ("signin", "state_unknown", 100),
    ]
    assert logged[0].ip == "127.0.0.1" and logged[0].details["window_seconds"] == flood.WINDOW_SECONDS


def test_each_source_address_is_counted_on_its_own(app):
    for address in ("198.51.100.1", "198.51.100.2"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        for _ in range(3):
            client.get("/auth/fake/callback?code=c&state=bogus")
    assert [(e.ip, e.details["count"]) for e in events(app)] == [("198.51.100.1", 1), ("198.51.100.2", 1)]


def test_anonymous_posts_without_csrf_are_audited_in_aggregate(app):
    client = app.test_client()
    for _ in range(50):
        assert client.post("/logout", data={}).status_code == 400
    logged = [(e.type, e.details["reason"], e.details["count"]) for e in events(app)]
    assert logged == [("request.auth.logout", "csrf_cookie", 1), ("request.auth.logout", "csrf_token", 1), ("request.auth.logout", "csrf_token", 10)]


def test_a_frontchannel_logout_that_ends_a_session_is_a_success(app, idp):
    browser = app.test_client()
    sign_in(browser, idp, "alice")
    response = app.test_client().get("/auth/fake/frontchannel-logout?sid=sid-sub-alice")
    assert response.status_code == 200 and rows(app, WebSession) == 0
    (event,) = events(app, "logout")
    assert (event.outcome, event.details["via"], event.details["sessions"]) == ("success", "frontchannel", 1)


def test_a_sign_in_failure_after_a_real_start_is_audited_on_its_own(app, idp):
    client = app.test_client()
    for _ in range(3):
        url = start_signin(client)
        idp.wrong_nonce = True
        assert client.get(callback_path(idp.authorize(url))).status_code == 400
    assert [e.details["reason"] for e in events(app, "signin")] == ["token_rejected"] * 3


# --- back-channel logout tokens: jti remembered in the database until exp ----------------------


def token_for(sid: str = "sid-sub-alice", jti: str | None = None, exp_in: int = 120) -> str:
    return logout_token({"sid": sid, "jti": jti or uuid.uuid4().hex, "exp": int(time.time()) + exp_in})


def test_a_replayed_logout_token_is_refused_by_another_process_sharing_the_database(hub_config, plugins, idp):
    first, second = make_app(hub_config, plugins), make_app(hub_config, plugins)  # two workers
    token = token_for()
    assert first.test_client().post("/auth/fake/backchannel-logout", data={"logout_token": token}).status_code == 200
    sign_in(second.test_client(), idp, "alice")  # the same provider session signs in again
    replayed = second.test_client().post("/auth/fake/backchannel-logout", data={"logout_token": token})
    assert replayed.status_code == 400 and replayed.get_json()["error"] == "invalid_request"
    assert rows(second, WebSession) == 1  # the replay ended nothing
    failures = [e for e in events(second, "logout") if e.outcome == "failure"]
    assert [e.details["reason"] for e in failures] == ["logout_token_replayed"]
    for app in (first, second):
        app.extensions["hub"].close()


def test_a_fresh_jti_for_the_same_session_is_accepted(app, idp):
    sign_in(app.test_client(), idp, "alice")
    client = app.test_client()
    assert client.post("/auth/fake/backchannel-logout", data={"logout_token": token_for()}).status_code == 200
    assert rows(app, WebSession) == 0
    assert client.post("/auth/fake/backchannel-logout", data={"logout_token": token_for()}).status_code == 200
    assert rows(app, SeenLogoutToken) == 2


def test_a_jti_is_kept_until_the_token_expires_and_then_purged(app):
    client = app.test_client()
    client.post("/auth/fake/backchannel-logout", data={"logout_token": token_for(jti="j-1", exp_in=300)})
    with app.extensions["hub"].db.session() as session:
        (row,) = session.scalars(select(SeenLogoutToken))
        assert timedelta(seconds=290) < row.expires_at - utcnow() <= timedelta(seconds=300)
        assert "j-1" not in row.jti_hash  # stored as a fixed-size hash
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(SeenLogoutToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert replay.purge_expired(session) == 1
    assert rows(app, SeenLogoutToken) == 0


def test_expired_jtis_are_deleted_when_a_new_one_is_stored(app):
    client = app.test_client()
    client.post("/auth/fake/backchannel-logout", data={"logout_token": token_for(jti="old")})
    with app.extensions["hub"].db.session() as session, session.begin():
        session.execute(update(SeenLogoutToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    client.post("/auth/fake/backchannel-logout", data={"logout_token": token_for(jti="new")})
    with app.extensions["hub"].db.session() as session:
        assert not replay.is_remembered(session, "fake", "old") and replay.is_remembered(session, "fake", "new")


def test_the_same_jti_at_two_providers_is_two_tokens(app):
    client = app.test_client()
    token = token_for(jti="shared")
    assert client.post("/auth/fake/backchannel-logout", data={"logout_token": token}).status_code == 200
    assert client.post("/auth/fake2/backchannel-logout", data={"logout_token": token}).status_code == 200


def test_one_token_posted_to_two_processes_at_once_acts_once(hub_config, plugins, idp):
    """On PostgreSQL the second insert waits on the key and then fails; on SQLite the writers
    are serialised: either way one 200 and one replay."""
    import threading

    first, second = make_app(hub_config, plugins), make_app(hub_config, plugins)
    sign_in(first.test_client(), idp, "alice")
    token = token_for()
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def post(app: Flask) -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/auth/fake/backchannel-logout", data={"logout_token": token}).status_code)

    threads = [threading.Thread(target=post, args=(app,)) for app in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [200, 400]
    assert rows(first, SeenLogoutToken) == 1 and rows(first, WebSession) == 0
    assert [e.outcome for e in events(first, "logout")] == ["success", "failure"]
    for app in (first, second):
        app.extensions["hub"].close()
