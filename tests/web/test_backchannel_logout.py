"""Back-channel logout deliveries (hub.issuer.backchannel): queued with the session ending,
signed, POSTed with bounded retries, audited, shared safely by several processes.

Applications' receivers are mocked with `responses`; the clock is moved by hand, so retries
are tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import delete, select

from hub.core import sessions
from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.digest import digest
from hub.core.models import (
    Application,
    AuditEvent,
    BackchannelLogout,
    LinkedAccount,
    SsoSession,
    SsoSessionApplication,
    User,
    WebSession,
    utcnow,
)
from hub.issuer import applications, backchannel, sso
from tests.conftest import callback_path, csrf_of, sign_in, start_signin

ISSUER = "http://127.0.0.1:5001"
RECEIVER_A = "http://127.0.0.1:5003/backchannel-logout"
RECEIVER_B = "http://127.0.0.1:5004/backchannel-logout"
KEY = RSAKey.generate_key(2048, parameters={"kid": "test-hub-key"})
POLICY = sessions.SessionPolicy(idle=timedelta(hours=1), absolute=timedelta(hours=8))


class Clock:
    """The real time, moved forward by hand."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self):
        return utcnow() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(b"k" * 32)


@pytest.fixture
def receivers() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def make_dispatcher(db: Database, audit: AuditLog, clock: Clock, **options) -> backchannel.Dispatcher:
    return backchannel.Dispatcher(
        db,
        audit,
        issuer=ISSUER,
        sign=backchannel.sign_with(lambda alg: KEY),
        session_id_of=lambda application, sid: f"{sid}@{application.client_id}",
        subject_of=lambda application, user_id, public_subject: f"user-{user_id}",
        clock=clock,
        **options,
    )


@pytest.fixture
def dispatcher(db, audit, clock) -> Iterator[backchannel.Dispatcher]:
    running = make_dispatcher(db, audit, clock)
    yield running
    running.stop()


def register(db: Database, name: str, backchannel_uri: str | None) -> int:
    with write_transaction(db) as session:
        return applications.create(
            session,
            name,
            [f"http://127.0.0.1:5003/{name}/callback"],
            backchannel_logout_uri=backchannel_uri,
        ).application.id


def hub_session(db: Database, user_name: str, *application_ids: int) -> tuple[str, str, int]:
    """A signed-in hub session through which these applications signed in: (cookie, sid, user id)."""
    with write_transaction(db) as session:
        user = User(display_name=user_name)
        session.add(user)
        session.flush()
        cookie = sessions.create(session, user.id, POLICY, provider_id="fake", linked_account_id=None, roles=frozenset())
        session.flush()
        sid = f"sid-{user_name}"
        session.add(SsoSession(sid=sid, session_id_hash=digest(cookie), user_id=user.id))
        session.flush()
        for application_id in application_ids:
            session.add(SsoSessionApplication(sid=sid, application_id=application_id))
        return cookie, sid, user.id


def end_session(db: Database, cookie: str, reason: str = "logout") -> int:
    """What the hub does at sign-out: queue, then delete, in one transaction."""
    with write_transaction(db) as session:
        queued = backchannel.enqueue(session, [digest(cookie)], reason)
        session.execute(delete(WebSession).where(WebSession.id_hash == digest(cookie)))
    return queued


def rows(db: Database) -> list[BackchannelLogout]:
    with db.session() as session:
        return list(session.scalars(select(BackchannelLogout).order_by(BackchannelLogout.id)))


def events(db: Database) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == "logout.backchannel").order_by(AuditEvent.seq)))


def posted_token(call) -> jwt.Token:
    body = dict(pair.split("=", 1) for pair in call.request.body.split("&"))
    return jwt.decode(body["logout_token"], KEY)


# --- queueing ---------------------------------------------------------------------------------


def test_only_applications_of_the_ended_session_with_a_receiver_are_queued(db):
    app_a = register(db, "a", RECEIVER_A)
    app_b = register(db, "b", RECEIVER_B)
    no_receiver = register(db, "c", None)
    cookie, sid, user_id = hub_session(db, "ada", app_a, no_receiver)
    hub_session(db, "bob", app_b)  # another person's session: untouched
    assert end_session(db, cookie) == 1
    [row] = rows(db)
    assert (row.application_id, row.sid, row.user_id, row.state, row.reason) == (app_a, sid, user_id, "pending", "logout")
    with db.session() as session:  # the SSO session went with the hub session
        assert session.get(SsoSession, sid) is None


def test_a_rolled_back_logout_queues_nothing(db):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    with pytest.raises(RuntimeError), write_transaction(db) as session:
        backchannel.enqueue(session, [digest(cookie)], "logout")
        raise RuntimeError("the logout failed after queueing")
    assert rows(db) == []


# --- delivery ---------------------------------------------------------------------------------


def test_the_logout_token_is_signed_and_says_who_and_which_session(db, dispatcher, receivers):
    app_a = register(db, "a", RECEIVER_A)
    cookie, sid, user_id = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    receivers.post(RECEIVER_A, status=200)
    assert dispatcher.run_once() == 1
    [call] = receivers.calls
    token = posted_token(call)
    with db.session() as session:
        client_id = session.get(Application, app_a).client_id
    assert token.header["typ"] == "logout+jwt" and token.header["kid"] == "test-hub-key"
    claims = token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == client_id
    assert claims["sid"] == f"{sid}@{client_id}" and claims["sub"] == f"user-{user_id}"
    assert claims["events"] == {backchannel.EVENT: {}}
    assert "nonce" not in claims and claims["jti"] and claims["exp"] - claims["iat"] == 120
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    [row] = rows(db)
    assert (row.state, row.attempts, row.leased_until) == ("delivered", 1, None)
    [event] = events(db)
    assert (event.outcome, event.subject_user_id, event.details["application"], event.details["session_ended_by"]) == (
        "success",
        user_id,
        "a",
        "logout",
    )


def test_an_unavailable_receiver_is_retried_later_with_the_same_jti(db, dispatcher, receivers, clock):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    receivers.post(RECEIVER_A, status=503)
    assert dispatcher.run_once() == 1
    [row] = rows(db)
    assert row.state == "pending"
    assert abs(row.next_attempt_at - (clock() + backchannel.RETRY_DELAYS[0])) < timedelta(seconds=2)
    assert dispatcher.run_once() == 0  # not due yet
    clock.advance(backchannel.RETRY_DELAYS[0])
    receivers.replace(responses.POST, RECEIVER_A, status=200)
    assert dispatcher.run_once() == 1
    first, second = (posted_token(call) for call in receivers.calls)
    assert first.claims["jti"] == second.claims["jti"] and second.claims["iat"] > first.claims["iat"] - 1
    assert rows(db)[0].state == "delivered"
    assert [(e.outcome, e.details["reason"], e.details["attempt"]) for e in events(db)] == [
        ("failure", "http_503", 1),
        ("success", None, 2),
    ]


def test_an_unreachable_receiver_is_abandoned_after_the_last_attempt(db, dispatcher, receivers, clock):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    receivers.post(RECEIVER_A, body=requests.ConnectionError("connection refused"))
    for delay in (*backchannel.RETRY_DELAYS, None):
        assert dispatcher.run_once() == 1
        if delay is not None:
            clock.advance(delay)
    [row] = rows(db)
    assert (row.state, row.attempts, row.last_error) == ("abandoned", backchannel.MAX_ATTEMPTS, "unreachable")
    clock.advance(timedelta(days=1))
    assert dispatcher.run_once() == 0
    assert [e.details["state"] for e in events(db)] == ["pending"] * len(backchannel.RETRY_DELAYS) + ["abandoned"]


def test_a_receiver_that_refuses_the_token_is_not_retried(db, dispatcher, receivers):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    receivers.post(RECEIVER_A, status=400, json={"error": "invalid_request"})
    dispatcher.run_once()
    assert rows(db)[0].state == "abandoned"
    assert events(db)[0].details["reason"] == "http_400"


def test_a_redirect_is_not_followed(db, dispatcher, receivers):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    receivers.post(RECEIVER_A, status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    dispatcher.run_once()
    assert len(receivers.calls) == 1 and rows(db)[0].state == "abandoned"


# --- several processes --------------------------------------------------------------------------


def test_a_claimed_row_is_not_sent_by_another_process_until_its_lease_ends(db, audit, clock, receivers):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    first, second = make_dispatcher(db, audit, clock), make_dispatcher(db, audit, clock)
    claimed = first._claim()  # process one dies right after claiming
    assert len(claimed) == 1
    assert second.run_once() == 0
    clock.advance(backchannel.LEASE)
    receivers.post(RECEIVER_A, status=200)
    assert second.run_once() == 1  # taken over once the lease ran out
    assert rows(db)[0].state == "delivered" and rows(db)[0].attempts == 2


def test_the_delivery_thread_sends_right_after_the_logout_commits(db, audit, receivers):
    from sqlalchemy import event

    running = make_dispatcher(db, audit, utcnow, poll_seconds=3600)  # only the wake-up can explain a delivery
    event.listen(db.sessions, "after_commit", running.after_commit)
    try:
        app_a = register(db, "a", RECEIVER_A)
        cookie, _, _ = hub_session(db, "ada", app_a)
        running.ensure_running()
        receivers.post(RECEIVER_A, status=200)
        end_session(db, cookie)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and rows(db)[0].state != "delivered":
            time.sleep(0.05)
        assert rows(db)[0].state == "delivered"
    finally:
        event.remove(db.sessions, "after_commit", running.after_commit)
        running.stop()


def test_finished_rows_are_purged_after_a_week(db, dispatcher, receivers):
    app_a = register(db, "a", RECEIVER_A)
    cookie, _, _ = hub_session(db, "ada", app_a)
    end_session(db, cookie)
    receivers.post(RECEIVER_A, status=200)
    dispatcher.run_once()
    with write_transaction(db) as session:
        assert backchannel.purge_finished(session) == 0
        assert backchannel.purge_finished(session, older_than=timedelta(seconds=-1)) == 1
    assert rows(db) == [] and len(events(db)) == 1


# --- every way a hub session ends queues the logouts (hub.core.sessions.end_sessions) ------------------


def test_ending_sessions_runs_the_wired_listener_before_the_rows_go(db):
    """The core does not import the issuer: the runtime wires the back-channel queue as a
    listener (hub.runtime.open_database, used by the `db` fixture as by Runtime.load), and
    end_sessions runs it in the same transaction, while the SSO sessions still exist."""
    app_a = register(db, "a", RECEIVER_A)
    cookie, sid, user_id = hub_session(db, "ada", app_a)
    with write_transaction(db) as session:
        [ended] = sessions.end_sessions(session, token=cookie, reason="logout")
    [row] = rows(db)
    assert (row.application_id, row.sid, row.user_id, row.reason) == (app_a, sid, user_id, "logout")
    assert ended.user_id == user_id


def test_a_database_built_without_the_runtime_refuses_to_end_sessions(db, database_url):
    """Forgetting the wiring would end sessions and silently tell no application."""
    cookie, _, _ = hub_session(db, "ada", register(db, "a", RECEIVER_A))
    bare = Database(database_url)
    try:
        with pytest.raises(sessions.SessionEventsNotWired), write_transaction(bare) as session:
            sessions.end_sessions(session, token=cookie, reason="logout")
    finally:
        bare.dispose()
    with db.session() as session:
        assert session.get(WebSession, digest(cookie)) is not None and rows(db) == []


@pytest.fixture
def signed_in_with_app(app, idp):
    """Bob signed in to the hub (fake provider) and, through that session, to an application
    with a back-channel URI and to one without."""
    client = app.test_client()
    sign_in(client, idp, "bob")
    rt = app.extensions["hub"]
    told = register(rt.db, "told", RECEIVER_A)
    untold = register(rt.db, "untold", None)
    with write_transaction(rt.db) as session:
        bob = session.scalars(select(User).where(User.display_name.like("Bob%"))).one()
        web_session = session.scalars(select(WebSession).where(WebSession.user_id == bob.id)).one()
        sid = sso.sid_for(session, web_session.id_hash, bob.id)
        sso.record_application(session, sid, told)
        sso.record_application(session, sid, untold)
    return client, rt, bob.id, sid, told


def admin_client(app, idp):
    client = app.test_client()
    sign_in(client, idp, "alice")
    return client


def _csrf(client, path):
    return csrf_of(client, path)


def sign_out(app, idp, client, user_id):
    return client.post("/logout", data={"csrf_token": _csrf(client, "/account")})


def admin_action(action):
    def run(app, idp, client, user_id):
        admin = admin_client(app, idp)
        return admin.post(
            f"/admin/users/{user_id}/{action}", data={"csrf_token": _csrf(admin, "/admin"), "confirm": "yes"}
        )

    return run


def provider_logout(app, idp, client, user_id):
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        ended = sessions.end_sessions(session, user_id=user_id, provider_id="fake", reason="provider_logout")
    assert len(ended) == 1


def expiry(app, idp, client, user_id):
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        session.execute(
            WebSession.__table__.update().where(WebSession.user_id == user_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with write_transaction(rt.db) as session:
        sessions.end_sessions(session, expired_under=POLICY, reason="expired")


ENDINGS = {
    "logout": sign_out,
    "signout_everywhere": admin_action("signout_everywhere"),
    "user_disabled": admin_action("disable_user"),
    "provider_logout": provider_logout,
    "expired": expiry,
}


@pytest.mark.parametrize("reason", sorted(ENDINGS))
def test_every_way_a_hub_session_ends_queues_a_logout_for_its_applications(signed_in_with_app, app, idp, reason):
    client, rt, user_id, sid, told = signed_in_with_app
    ENDINGS[reason](app, idp, client, user_id)
    with rt.db.session() as session:
        assert session.scalars(select(WebSession).where(WebSession.user_id == user_id)).all() == []
    [row] = rows(rt.db)
    assert (row.application_id, row.sid, row.user_id, row.reason, row.state) == (told, sid, user_id, reason, "pending")


def test_unlinking_the_account_a_session_came_through_queues_a_logout(signed_in_with_app, app, idp):
    client, rt, user_id, sid, told = signed_in_with_app
    # a second account, so the first can go
    client.get(callback_path(idp.authorize(start_signin(client, "fake2", intent="link"), "bob")))
    with rt.db.session() as session:
        account_id = session.scalars(
            select(LinkedAccount.id).where(LinkedAccount.user_id == user_id, LinkedAccount.provider_id == "fake")
        ).one()
    answer = client.post(f"/account/linked/{account_id}/unlink", data={"csrf_token": _csrf(client, "/account")})
    assert answer.status_code == 303
    [row] = rows(rt.db)
    assert (row.application_id, row.sid, row.reason) == (told, sid, "unlink")
