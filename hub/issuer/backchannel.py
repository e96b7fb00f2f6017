"""Back-channel logout to applications (OpenID Connect Back-Channel Logout 1.0): when a hub
session ends, every application that signed in through it and registered a
`backchannel_logout_uri` receives a signed logout token, in the background.

The design, and why:

- **A queue in the database.** `enqueue()` runs inside the transaction that ends the hub
  session, before its row is deleted (the session's `sso_session_applications` go with it): a
  logout that rolls back owes nothing, one that commits owes every application a token, even if
  this process dies the next instant. The token itself is not stored, only what it says; it is
  signed at each attempt with the hub's current key (same `jti` on a retry).
- **One delivery thread per process**, started lazily in the process that serves requests (so
  each gunicorn worker forked from a preloaded app gets its own), woken right after the commit
  that queued rows and otherwise polling every POLL_SECONDS. Several processes share the
  queue: a batch is claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the
  `BEGIN IMMEDIATE` write lock on SQLite), so each row is sent by one process at a time, and a
  process that dies mid-delivery only delays its rows until the lease runs out (at-least-once).
- **Bounded.** Each POST has a connect and a read timeout and follows no redirect; a network
  error, 5xx, 408 or 429 is retried after RETRY_DELAYS (about 13 minutes in all), any other
  answer ends the row as `abandoned`. Every attempt is an audit event (`logout.backchannel`).
  The person's own logout never waits: it only inserts rows.
- A CLI process (`hub admin ...`) that ends sessions queues rows too; a serving process sends
  them within POLL_SECONDS.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from joserfc import jwt
from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from hub.core.audit import AuditLog, clean_text
from hub.core.db import Database, write_transaction
from hub.core.models import Application, BackchannelLogout, SsoSession, SsoSessionApplication, User, utcnow

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
JWT_TYPE = "logout+jwt"
TOKEN_LIFETIME = timedelta(minutes=2)
TIMEOUT = (2.0, 5.0)
"""(connect, read) seconds for one POST."""
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
RETRY_STATUSES = frozenset({408, 429})
BATCH_SIZE = 16
SENDERS = 4
"""POSTs in flight at once per process, so one slow application does not hold up the others."""
LEASE = timedelta(seconds=60)
"""Longer than the slowest batch: ceil(BATCH_SIZE / SENDERS) x (connect + read timeout)."""
POLL_SECONDS = 5.0
KEEP_FINISHED = timedelta(days=7)
QUEUED = "hub_backchannel_queued"
"""Session.info flag: this transaction queued deliveries, wake the thread after its commit."""


# --- queueing (inside the transaction that ends the sessions) ---------------------------------


def enqueue(session: Session, session_id_hashes: Collection[str] | Select[Any], reason: str) -> int:
    """Queue a logout token for each application with a back-channel URI that signed in
    through one of these hub sessions (their id hashes, or a SELECT of them). The listener
    hub.runtime.open_database wires to hub.core.sessions.end_sessions, which runs it before it
    deletes the session rows."""
    if not isinstance(session_id_hashes, Select) and not session_id_hashes:
        return 0
    rows = session.execute(
        select(SsoSession.sid, SsoSession.user_id, Application.id)
        .join(SsoSessionApplication, SsoSessionApplication.sid == SsoSession.sid)
        .join(Application, Application.id == SsoSessionApplication.application_id)
        .where(
            SsoSession.session_id_hash.in_(
                session_id_hashes if isinstance(session_id_hashes, Select) else list(session_id_hashes)
            ),
            Application.backchannel_logout_uri.is_not(None),
        )
    ).all()
    now = utcnow()
    for sid, user_id, application_id in rows:
        session.add(_row(application_id, user_id, sid, reason, now))
    if rows:
        session.info[QUEUED] = True
    return len(rows)


def enqueue_for_application(session: Session, user_id: int, application_id: int, reason: str) -> int:
    """Queue a logout token to one application for each live hub session of this person it
    signed in through, and forget those sign-ins ("Remove access": the hub sessions go on,
    the application's end)."""
    links = session.execute(
        select(SsoSessionApplication, Application.backchannel_logout_uri)
        .join(SsoSession, SsoSession.sid == SsoSessionApplication.sid)
        .join(Application, Application.id == SsoSessionApplication.application_id)
        .where(SsoSession.user_id == user_id, SsoSessionApplication.application_id == application_id)
    ).all()
    queued = 0
    now = utcnow()
    for link, uri in links:
        if uri:
            session.add(_row(application_id, user_id, link.sid, reason, now))
            queued += 1
        session.delete(link)
    if queued:
        session.info[QUEUED] = True
    return queued


def _row(application_id: int, user_id: int | None, sid: str, reason: str, now: datetime) -> BackchannelLogout:
    return BackchannelLogout(
        application_id=application_id,
        user_id=user_id,
        sid=sid,
        jti=secrets.token_urlsafe(24),
        reason=clean_text(reason, 32),
        state="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


def purge_finished(session: Session, older_than: timedelta = KEEP_FINISHED) -> int:
    """Delete delivered and abandoned rows (their audit events stay)."""
    result = session.execute(
        delete(BackchannelLogout).where(
            BackchannelLogout.state != "pending", BackchannelLogout.finished_at < utcnow() - older_than
        )
    )
    return result.rowcount or 0


# --- delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A queued row as one attempt sees it (read under the lease, used outside transactions)."""

    id: int
    jti: str
    sid: str
    user_id: int | None
    public_subject: str | None
    """The user's public subject identifier; None when the user was deleted since."""
    reason: str
    attempt: int
    application: Application


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retry: bool
    status: int | None
    error: str | None
    """A short code for the audit trail: timeout, unreachable, http_503, signing_failed, no_uri."""


Signer = Callable[[Application, dict[str, Any], dict[str, Any]], str]
"""(application, header, claims) -> compact JWS signed with the hub's current key."""
SessionIdOf = Callable[[Application, str], str]
"""(application, the hub session's sid) -> the `sid` this application saw
(hub.issuer.sso.application_sid)."""
SubjectOf = Callable[[Application, int, str], str]
"""(application, user id, public subject) -> the `sub` this application knows the person by."""


def logout_claims(issuer: str, claimed: Claimed, sid: str, subject: str | None, now: datetime) -> dict[str, Any]:
    """Back-Channel Logout 1.0 section 2.4: iss, aud, iat, exp, jti, events, sid (the one this
    application saw), sub; never a nonce."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": claimed.application.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + TOKEN_LIFETIME).timestamp()),
        "jti": claimed.jti,
        "sid": sid,
        "events": {EVENT: {}},
    }
    if subject is not None:
        claims["sub"] = subject
    return claims


def sign_with(key_for: Callable[[str], Any]) -> Signer:
    """A Signer over a `key_for(alg)` that returns the hub's current joserfc key for `alg`."""

    def sign(application: Application, header: dict[str, Any], claims: dict[str, Any]) -> str:
        key = key_for(header["alg"])
        return jwt.encode({**header, "kid": key.kid}, claims, key)

    return sign


class Dispatcher:
    """Drains the queue: one daemon thread per process, plus `run_once()` for tests and tools."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        issuer: str,
        sign: Signer,
        session_id_of: SessionIdOf,
        subject_of: SubjectOf | None,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], datetime] = utcnow,
        on_attempt: Callable[[Application, str], None] | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.issuer = issuer
        self.sign = sign
        self.session_id_of = session_id_of
        self.subject_of = subject_of
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.on_attempt = on_attempt
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._http = requests.Session()
        self._http.headers["User-Agent"] = "identity-hub backchannel-logout"

    def __repr__(self) -> str:
        return f"Dispatcher(issuer={self.issuer!r})"

    # ---- the thread ---------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start this process's thread if it has none (after a fork, the parent's is gone)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            if self._stopping.is_set():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="backchannel-logout", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self.ensure_running()
        self._wakeup.set()

    def after_commit(self, session: Session) -> None:
        """SQLAlchemy `after_commit` listener: deliver what this transaction queued now."""
        if session.info.pop(QUEUED, False):
            self.wake()

    def after_rollback(self, session: Session) -> None:
        session.info.pop(QUEUED, None)

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=TIMEOUT[0] + TIMEOUT[1] + 1)
        self._thread = None

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="backchannel-send") as senders:
            while not self._stopping.is_set():
                self._wakeup.clear()
                try:
                    handled = self.run_once(senders)
                except Exception:  # a database hiccup must not end the thread
                    log.exception("back-channel logout delivery failed; retrying in %.0f s", self.poll_seconds)
                    handled = 0
                if handled < BATCH_SIZE:
                    self._wakeup.wait(self.poll_seconds)

    # ---- one round ---------------------------------------------------------------------------

    def run_once(self, senders: ThreadPoolExecutor | None = None) -> int:
        """Claim the due rows (up to BATCH_SIZE), deliver them, record each outcome; returns how
        many were attempted."""
        batch = self._claim()
        if senders is None:
            outcomes = [self._post(claimed) for claimed in batch]
        else:
            outcomes = list(senders.map(self._post, batch))
        for claimed, outcome in zip(batch, outcomes, strict=True):
            self._record(claimed, outcome)
        return len(batch)

    def _claim(self) -> list[Claimed]:
        now = self.clock()
        due = (
            BackchannelLogout.state == "pending",
            BackchannelLogout.next_attempt_at <= now,
            or_(BackchannelLogout.leased_until.is_(None), BackchannelLogout.leased_until <= now),
        )
        with self.db.session() as session:  # an idle poll reads only (no SQLite write lock)
            if session.scalar(select(BackchannelLogout.id).where(*due).limit(1)) is None:
                return []
        with write_transaction(self.db) as session:
            query = (
                select(BackchannelLogout)
                .where(*due)
                .order_by(BackchannelLogout.next_attempt_at, BackchannelLogout.id)
                .limit(BATCH_SIZE)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = session.scalars(query).all()
            claimed = []
            for row in rows:
                row.leased_until = now + LEASE
                row.attempts += 1
                application = session.get(Application, row.application_id)
                assert application is not None  # the foreign key cascades deletions
                user = session.get(User, row.user_id) if row.user_id is not None else None
                claimed.append(Claimed(row.id, row.jti, row.sid, row.user_id, user.public_subject if user else None,
                                       row.reason, row.attempts, application))
        return claimed

    def _post(self, claimed: Claimed) -> Outcome:
        application = claimed.application
        uri = application.backchannel_logout_uri
        if not uri:
            return Outcome(False, False, None, "no_uri")
        try:
            subject = (
                self.subject_of(application, claimed.user_id, claimed.public_subject)
                if self.subject_of is not None and claimed.user_id is not None and claimed.public_subject is not None
                else None
            )
            header = {"alg": application.id_token_signed_response_alg or "RS256", "typ": JWT_TYPE}
            sid = self.session_id_of(application, claimed.sid)
            token = self.sign(application, header, logout_claims(self.issuer, claimed, sid, subject, self.clock()))
        except Exception:  # a key problem: retry, an operator may fix it
            log.exception("could not sign a back-channel logout token for %s", application.client_id)
            return Outcome(False, True, None, "signing_failed")
        try:
            answer = self._http.post(
                uri,
                data={"logout_token": token},
                timeout=TIMEOUT,
                allow_redirects=False,
                headers={"Cache-Control": "no-store"},
            )
        except requests.Timeout:
            return Outcome(False, True, None, "timeout")
        except requests.RequestException:
            return Outcome(False, True, None, "unreachable")
        if 200 <= answer.status_code < 300:
            return Outcome(True, False, answer.status_code, None)
        retry = answer.status_code >= 500 or answer.status_code in RETRY_STATUSES
        return Outcome(False, retry, answer.status_code, f"http_{answer.status_code}")

    def _record(self, claimed: Claimed, outcome: Outcome) -> None:
        now = self.clock()
        application = claimed.application
        final_retry = outcome.retry and claimed.attempt < MAX_ATTEMPTS
        with write_transaction(self.db) as session:
            row = session.get(BackchannelLogout, claimed.id)
            if row is None:  # the application was deleted meanwhile
                return
            row.leased_until = None
            row.last_error = clean_text(outcome.error, 200) if outcome.error else None
            if outcome.delivered:
                row.state, row.finished_at = "delivered", now
            elif final_retry:
                row.next_attempt_at = now + RETRY_DELAYS[claimed.attempt - 1]
            else:
                row.state, row.finished_at = "abandoned", now
            self.audit.record(
                session,
                "logout.backchannel",
                "success" if outcome.delivered else "failure",
                subject_user_id=claimed.user_id,
                details={
                    "application": application.name,
                    "client_id": application.client_id,
                    "session_ended_by": claimed.reason,
                    "attempt": claimed.attempt,
                    "http_status": outcome.status,
                    "reason": outcome.error,
                    "state": row.state,
                    "next_attempt_at": row.next_attempt_at.isoformat() if row.state == "pending" else None,
                },
            )
        if self.on_attempt is not None:
            label = _metric_label(outcome)
            try:
                self.on_attempt(application, label)
            except Exception:  # metrics must never break delivery
                log.exception("back-channel logout metrics observer failed")


def _metric_label(outcome: Outcome) -> str:
    """What the deliveries metric calls an attempt. A receiver that did not answer within
    TIMEOUT may still have acted on the token: it is `timed_out` (and the audit reason
    `timeout`), never `delivered` nor a generic `unreachable`; it gets the same token again
    (at-least-once delivery, the receiver dedupes by `jti`)."""
    if outcome.delivered:
        return "delivered"
    if outcome.error == "timeout":
        return "timed_out"
    return "unreachable" if outcome.status is None else "rejected"
