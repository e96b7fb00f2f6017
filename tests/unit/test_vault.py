"""The token vault: encryption at rest, row binding, key rotation, single-flight refresh."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, text, update

from hub.actions import keyring as keyring_actions
from hub.actions.keyring import key_usage
from hub.cli.commands import keys_group
from hub.core.audit import AuditLog, AuditRecord, verify
from hub.core.db import Database, write_transaction
from hub.core.keyring import KeyRing, TokenKeyMissing, TokenUnreadable, add_token_key, retire_key
from hub.core.models import AuditEvent, LinkedAccount, TokenSet, User, utcnow
from hub.core.secrets import new_token_key
from hub.errors import ConfigError, NotFound, ProviderUnavailable, RefreshRejected
from hub.provider import (
    AuthorizationRequest,
    Callback,
    Identity,
    ProviderContext,
    ProviderType,
    RefreshResult,
    SignInResult,
    Tokens,
)
from hub.upstream.vault import TokenVault

AUDIT_KEY = b"a" * 48
RING = new_token_key()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault(KeyRing.parse(RING))


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(AUDIT_KEY)


class CountingProvider(ProviderType):
    """A provider with GitHub-style single-use refresh tokens that counts its refresh calls."""

    type_name = "counting"

    def __init__(self, delay: float = 0.2) -> None:
        self._http = requests.Session()
        super().__init__("contoso", "Contoso", {}, ProviderContext("http://localhost/cb", self._http))
        self.delay = delay
        self.calls = 0
        self.valid_refresh_token = "rt-0"
        self.error: BaseException | None = None
        self.rotate = True
        self.previous: list[Identity] = []
        self._lock = threading.Lock()

    def authorization_url(self, request: AuthorizationRequest) -> str:
        raise NotImplementedError

    def complete_sign_in(self, callback: Callback) -> SignInResult:
        raise NotImplementedError

    def refresh(self, refresh_token: str, previous: Identity) -> RefreshResult:
        with self._lock:
            self.calls += 1
            number = self.calls
            self.previous.append(previous)
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        if refresh_token != self.valid_refresh_token:  # spent already: the R09 failure mode
            raise RefreshRejected("invalid_grant", provider_code="invalid_grant")
        new_refresh = f"rt-{number}" if self.rotate else None
        if new_refresh:
            self.valid_refresh_token = new_refresh
        return RefreshResult(
            Tokens(f"at-{number}", new_refresh, None, utcnow() + timedelta(hours=1), ())
        )

    def close(self) -> None:
        self._http.close()


@pytest.fixture
def provider() -> Iterator[CountingProvider]:
    counting = CountingProvider()
    yield counting
    counting.close()


def seed(
    db: Database, vault: TokenVault, expires_in: timedelta, refresh_token: str | None = "rt-0"  # noqa: S107
) -> int:
    """A user with one linked account whose tokens expire after `expires_in`."""
    with write_transaction(db) as session:
        user = User(display_name="Alice")
        session.add(user)
        session.flush()
        account = LinkedAccount(
            user_id=user.id,
            provider_id="contoso",
            subject=f"tid:{uuid.uuid4()}",
            issuer="https://login.example/tid/v2.0",
            tenant="tid",
        )
        session.add(account)
        session.flush()
        tokens = Tokens(
            "at-0-secret-access", refresh_token, "idt-0-secret-id",
            utcnow() + expires_in, ("User.Read",),
        )
        vault.store(session, account.id, tokens, ["User.Read", "offline_access"])
        return account.id


def token_set_of(db: Database, linked_account_id: int) -> TokenSet:
    with db.session() as session:
        token_set = session.scalars(
            select(TokenSet).where(TokenSet.linked_account_id == linked_account_id)
        ).one()
        session.expunge(token_set)
        return token_set


def account_of(db: Database, linked_account_id: int) -> LinkedAccount:
    with db.session() as session:
        account = session.get(LinkedAccount, linked_account_id)
        assert account is not None
        session.expunge(account)
        return account


def audit_events(db: Database, type: str = "token_refresh") -> list[AuditEvent]:
    with db.session() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.type == type)))
        session.expunge_all()
        return events


def chain_ok(db: Database) -> bool:
    with db.session() as session:
        return verify(session, AUDIT_KEY).ok


# --- the key ring ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ring_text",
    ["", " , ", "no-colon", ":" + RING.split(":")[1], "bad id!:" + RING.split(":")[1],
     "k1:c2hvcnQ=", "k1:!!!notbase64!!!", f"{RING},{RING}"],
    # RING is random per process: ids of their own keep the test names the same in every
    # pytest-xdist worker (and keep the key out of the names)
    ids=["empty", "blank-entries", "no-colon", "no-id", "bad-id", "short-key", "not-base64", "duplicate-id"],
)
def test_malformed_rings_are_refused_with_the_expected_form(ring_text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KeyRing.parse(ring_text)
    message = str(caught.value)
    assert "token_keys" in message and "HUB_TOKEN_KEYS" in message and "kid" not in message[:0]
    assert RING.split(":")[1] not in message


def test_ring_text_round_trips_and_reprs_hide_keys() -> None:
    ring = KeyRing.parse(add_token_key(RING))
    assert KeyRing.parse(ring.text()) == ring
    assert ring.key_ids[0] == RING.split(":")[0] and len(ring.key_ids) == 2
    secret = RING.split(":")[1]
    assert secret not in repr(ring) and secret not in repr(TokenVault(ring))
    tokens = Tokens("at-secret", "rt-secret", "id-secret")
    assert "secret" not in repr(tokens)


# --- storing and reading (T01, T02) ----------------------------------------------------------


def test_store_and_read_round_trip_with_ciphertext_only_at_rest(
    db: Database, vault: TokenVault
) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    token_set = token_set_of(db, account_id)
    tokens = vault.read(token_set)
    assert (tokens.access_token, tokens.refresh_token, tokens.id_token) == (
        "at-0-secret-access", "rt-0", "idt-0-secret-id"
    )
    assert tokens.scopes == ("User.Read",)
    assert token_set.scopes_requested == "User.Read offline_access"
    assert token_set.version == 1 and token_set.key_id == RING.split(":")[0]
    with db.engine.connect() as connection:
        raw = connection.execute(text("SELECT * FROM token_sets")).one()
    blob = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in raw)
    for plaintext in (b"at-0-secret", b"idt-0-secret", b"secret-access", b"access_token"):
        assert plaintext not in blob


def test_store_replaces_the_token_set_and_resets_its_failures(db: Database, vault: TokenVault) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    with write_transaction(db) as session:
        session.execute(update(TokenSet).values(refresh_failures=3))
    with write_transaction(db) as session:
        vault.store(session, account_id, Tokens("at-new", "rt-new"), ["User.Read"])
    with db.session() as session:
        assert session.scalar(select(TokenSet.id).where(TokenSet.version == 2)) is not None
        assert len(session.scalars(select(TokenSet)).all()) == 1
    token_set = token_set_of(db, account_id)
    assert token_set.refresh_failures == 0 and token_set.scopes_requested == "User.Read"
    assert vault.read(token_set).access_token == "at-new" and vault.read(token_set).refresh_token == "rt-new"


def test_a_ciphertext_copied_into_another_row_does_not_decrypt(
    db: Database, vault: TokenVault
) -> None:
    first, second = seed(db, vault, timedelta(hours=1)), seed(db, vault, timedelta(hours=1))
    stolen = token_set_of(db, first)
    with write_transaction(db) as session:
        session.execute(
            update(TokenSet)
            .where(TokenSet.linked_account_id == second)
            .values(ciphertext=stolen.ciphertext, key_id=stolen.key_id)
        )
    with pytest.raises(TokenUnreadable) as caught:
        vault.read(token_set_of(db, second))
    assert caught.value.code == "reauth_required"


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_tampered_ciphertext_does_not_decrypt(
    db: Database, vault: TokenVault, position: int
) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    sealed = bytearray(token_set_of(db, account_id).ciphertext)
    sealed[position] ^= 0x01
    with write_transaction(db) as session:
        session.execute(update(TokenSet).values(ciphertext=bytes(sealed)))
    with pytest.raises(TokenUnreadable):
        vault.read(token_set_of(db, account_id))


def test_a_truncated_ciphertext_does_not_decrypt(db: Database, vault: TokenVault) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    with write_transaction(db) as session:
        session.execute(update(TokenSet).values(ciphertext=b"short"))
    with pytest.raises(TokenUnreadable):
        vault.read(token_set_of(db, account_id))


# --- key rotation (T03) ----------------------------------------------------------------------


def test_rotation_persists_first_then_reseals_every_row(db: Database, vault: TokenVault, audit: AuditLog) -> None:
    accounts = [seed(db, vault, timedelta(hours=1)) for _ in range(5)]
    persisted: list[str] = []

    def persist(ring_text: str) -> None:
        assert key_usage(db) == {RING.split(":")[0]: 5}  # nothing re-sealed yet
        persisted.append(ring_text)

    progress: list[tuple[int, int]] = []
    new_ring = keyring_actions.rotate(
        db, audit, RING, lambda done, total: progress.append((done, total)), persist=persist, via="cli", batch_size=2
    )
    assert persisted == [new_ring]
    ring = KeyRing.parse(new_ring)
    assert ring.key_ids[0] == RING.split(":")[0] and len(ring.key_ids) == 2
    assert key_usage(db) == {ring.newest_id: 5}
    assert progress[0] == (0, 5) and progress[-1] == (5, 5)
    rotated = TokenVault(ring)
    for account_id in accounts:
        assert rotated.read(token_set_of(db, account_id)).refresh_token == "rt-0"
    with pytest.raises(TokenKeyMissing) as caught:
        vault.read(token_set_of(db, accounts[0]))  # a process still on the old ring
    assert ring.newest_id in str(caught.value) and new_ring.split(",")[1] not in str(caught.value)
    assert keyring_actions.reseal(db, audit, ring, via="cli").rewrapped == 0  # re-running is a no-op


def test_an_interrupted_rotation_resumes(db: Database, vault: TokenVault, audit: AuditLog) -> None:
    accounts = [seed(db, vault, timedelta(hours=1)) for _ in range(5)]
    ring = KeyRing.parse(add_token_key(RING))

    def crash_after_first_batch(done: int, total: int) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keyring_actions.reseal(db, audit, ring, crash_after_first_batch, batch_size=2, via="cli")
    assert key_usage(db) == {RING.split(":")[0]: 3, ring.newest_id: 2}
    rotated = TokenVault(ring)
    for account_id in accounts:  # every row readable half-way through
        rotated.read(token_set_of(db, account_id))
    report = keyring_actions.reseal(db, audit, ring, batch_size=2, via="cli")
    assert report.rewrapped == 3 and report.unreadable == ()
    assert key_usage(db) == {ring.newest_id: 5}


def test_a_failed_persist_changes_nothing(db: Database, vault: TokenVault, audit: AuditLog) -> None:
    seed(db, vault, timedelta(hours=1))

    def persist(ring_text: str) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        keyring_actions.rotate(db, audit, RING, persist=persist, via="cli")
    assert key_usage(db) == {RING.split(":")[0]: 1}


def test_rotation_skips_unreadable_rows_and_reports_them(db: Database, vault: TokenVault, audit: AuditLog) -> None:
    good, bad = seed(db, vault, timedelta(hours=1)), seed(db, vault, timedelta(hours=1))
    with write_transaction(db) as session:
        session.execute(
            update(TokenSet).where(TokenSet.linked_account_id == bad).values(ciphertext=b"x" * 40)
        )
    report = keyring_actions.reseal(db, audit, KeyRing.parse(add_token_key(RING)), via="cli")
    assert report.rewrapped == 1 and report.unreadable == (token_set_of(db, bad).id,)
    assert token_set_of(db, good).key_id == report.newest_key_id


def test_a_key_is_retired_only_when_unused(db: Database, vault: TokenVault, audit: AuditLog) -> None:
    seed(db, vault, timedelta(hours=1))
    ring_text = add_token_key(RING)
    old_id, new_id = KeyRing.parse(ring_text).key_ids
    with pytest.raises(ConfigError, match="still sealed"):
        retire_key(ring_text, old_id, key_usage(db))
    with pytest.raises(ConfigError, match="newest"):
        retire_key(ring_text, new_id, key_usage(db))
    keyring_actions.reseal(db, audit, KeyRing.parse(ring_text), via="cli")
    assert KeyRing.parse(retire_key(ring_text, old_id, key_usage(db))).key_ids == (new_id,)


def test_every_key_ring_change_records_one_event_shape(db: Database, vault: TokenVault, audit: AuditLog) -> None:
    """hub.actions.keyring audits each change with the actor and the front door it came through."""
    seed(db, vault, timedelta(hours=1))
    added = keyring_actions.add_key(db, audit, RING, via="cli")
    keyring_actions.reseal(db, audit, KeyRing.parse(added), via="cli")
    rotated = keyring_actions.rotate(db, audit, added, persist=lambda text: None, via="console", actor_user_id=None)
    with pytest.raises(ConfigError, match="newest"):
        keyring_actions.retire(db, audit, rotated, KeyRing.parse(rotated).newest_id, via="cli")
    keyring_actions.retire(db, audit, rotated, RING.split(":")[0], via="cli")
    with db.session() as session:
        events = [
            (event.type, event.actor_user_id, event.details.get("via"), event.details.get("stage"))
            for event in session.scalars(select(AuditEvent).where(AuditEvent.type.like("keys_%")).order_by(AuditEvent.seq))
        ]
    assert events == [
        ("keys_rotated", None, "cli", "added"),
        ("keys_reencrypted", None, "cli", None),
        ("keys_rotated", None, "console", "reencrypted"),
        ("keys_retired", None, "cli", None),
    ]
    assert chain_ok(db)


# --- on-demand refresh -----------------------------------------------------------------------


def test_a_fresh_token_is_returned_without_calling_the_provider(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog
) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    token = vault.access_token(db, account_id, {"contoso": provider}, audit)
    assert token.value == "at-0-secret-access" and provider.calls == 0
    assert "secret" not in repr(token)


def test_fifty_concurrent_callers_cause_exactly_one_refresh(
    db: Database, vault: TokenVault, provider: CountingProvider
) -> None:
    account_id = seed(db, vault, timedelta(minutes=-1))
    seen: list[AuditRecord] = []
    audit = AuditLog(AUDIT_KEY, notify=seen.append)
    start = threading.Barrier(50)

    def caller(_: int) -> str:
        start.wait()
        return vault.access_token(db, account_id, {"contoso": provider}, audit).value

    with ThreadPoolExecutor(max_workers=50) as pool:
        values = list(pool.map(caller, range(50)))

    assert provider.calls == 1
    assert set(values) == {"at-1"}
    stored = vault.read(token_set_of(db, account_id))
    assert stored.refresh_token == "rt-1" and stored.id_token == "idt-0-secret-id"
    token_set = token_set_of(db, account_id)
    assert token_set.version == 2 and token_set.last_refresh_at is not None
    events = audit_events(db)
    assert [(e.outcome, e.details["linked_account_id"]) for e in events] == [("success", account_id)]
    assert [record.type for record in seen] == ["token_refresh"]
    assert provider.previous[0].subject == account_of(db, account_id).subject
    assert provider.previous[0].tenant == "tid"
    assert chain_ok(db)


def test_a_refresh_without_rotation_keeps_the_refresh_token(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog
) -> None:
    provider.rotate = False
    provider.delay = 0
    account_id = seed(db, vault, timedelta(minutes=2))  # inside the 5-minute margin
    assert vault.access_token(db, account_id, {"contoso": provider}, audit).value == "at-1"
    stored = vault.read(token_set_of(db, account_id))
    assert stored.refresh_token == "rt-0" and stored.scopes == ("User.Read",)


def test_invalid_grant_marks_reauth_and_is_audited_and_committed(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog
) -> None:
    provider.delay = 0
    provider.valid_refresh_token = "revoked-elsewhere"
    account_id = seed(db, vault, timedelta(minutes=-1))
    with pytest.raises(RefreshRejected) as caught:
        vault.access_token(db, account_id, {"contoso": provider}, audit)
    assert caught.value.code == "reauth_required"
    assert account_of(db, account_id).needs_reauth
    assert token_set_of(db, account_id).refresh_failures == 1
    (event,) = audit_events(db)
    assert event.outcome == "failure"
    assert event.details["reason"] == "reauth_required"
    assert event.details["provider_code"] == "invalid_grant"
    # No retry loop (E07): a flagged account fails fast without calling the provider again.
    with pytest.raises(RefreshRejected):
        vault.access_token(db, account_id, {"contoso": provider}, audit)
    assert provider.calls == 1 and len(audit_events(db)) == 1
    assert chain_ok(db)


@pytest.mark.parametrize(
    "error", [ProviderUnavailable("token endpoint timed out"), requests.ConnectionError("refused")]
)
def test_provider_errors_count_and_audit_but_never_mark_reauth(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog, error: Exception
) -> None:
    provider.delay = 0
    provider.error = error
    account_id = seed(db, vault, timedelta(minutes=-1))
    for attempt in (1, 2):
        with pytest.raises(ProviderUnavailable):
            vault.access_token(db, account_id, {"contoso": provider}, audit)
        assert token_set_of(db, account_id).refresh_failures == attempt
    assert not account_of(db, account_id).needs_reauth
    events = audit_events(db)
    assert [(e.outcome, e.details["reason"], e.details["needs_reauth"]) for e in events] == [
        ("failure", "provider_unavailable", False)
    ] * 2
    # The refresh token was not spent, so the next attempt succeeds and resets the count.
    provider.error = None
    assert vault.access_token(db, account_id, {"contoso": provider}, audit).value == "at-3"
    assert token_set_of(db, account_id).refresh_failures == 0


def test_an_unreadable_token_set_marks_reauth_and_is_audited(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog
) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    with write_transaction(db) as session:
        session.execute(update(TokenSet).values(ciphertext=b"y" * 60))
    with pytest.raises(TokenUnreadable):
        vault.access_token(db, account_id, {"contoso": provider}, audit)
    assert account_of(db, account_id).needs_reauth and provider.calls == 0
    (event,) = audit_events(db)
    assert event.details["reason"] == "token_unreadable"


def test_a_missing_key_is_an_operator_error_not_the_users(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog
) -> None:
    account_id = seed(db, vault, timedelta(minutes=-1))
    stranger = TokenVault(KeyRing.parse(new_token_key()))
    with pytest.raises(TokenKeyMissing):
        stranger.access_token(db, account_id, {"contoso": provider}, audit)
    assert not account_of(db, account_id).needs_reauth and provider.calls == 0


def test_missing_account_tokens_or_provider(
    db: Database, vault: TokenVault, provider: CountingProvider, audit: AuditLog
) -> None:
    with pytest.raises(NotFound):
        vault.access_token(db, 12345, {"contoso": provider}, audit)
    account_id = seed(db, vault, timedelta(minutes=-1))
    with pytest.raises(ProviderUnavailable, match="'contoso'.*not running"):
        vault.access_token(db, account_id, {}, audit)
    assert not account_of(db, account_id).needs_reauth
    no_refresh = seed(db, vault, timedelta(minutes=-1), refresh_token=None)
    with pytest.raises(RefreshRejected):
        vault.access_token(db, no_refresh, {"contoso": provider}, audit)
    assert account_of(db, no_refresh).needs_reauth and provider.calls == 0


# --- commands --------------------------------------------------------------------------------


def _runtime(db: Database, instance: Path, ring_text: str, dev: bool) -> SimpleNamespace:
    return SimpleNamespace(
        db=db,
        keys=SimpleNamespace(
            token_keys=ring_text, generated=frozenset({"token_keys"} if dev else set())
        ),
        settings=SimpleNamespace(instance_path=instance, production=False),
        audit=AuditLog(AUDIT_KEY),
    )


def test_keys_rotate_in_development_rewrites_the_dev_file_and_reseals(
    db: Database, vault: TokenVault, tmp_path: Path
) -> None:
    account_id = seed(db, vault, timedelta(hours=1))
    secrets_file = tmp_path / "dev-secrets.json"
    secrets_file.write_text(json.dumps({"secret_key": "s", "token_keys": RING, "audit_key": "a"}))
    runner = CliRunner()
    result = runner.invoke(keys_group, ["rotate"], obj=_runtime(db, tmp_path, RING, dev=True))
    assert result.exit_code == 0, result.output
    new_ring = json.loads(secrets_file.read_text())["token_keys"]
    assert new_ring.startswith(RING + ",") and new_ring not in result.output
    assert TokenVault(KeyRing.parse(new_ring)).read(token_set_of(db, account_id)).access_token
    (event,) = audit_events(db, "keys_rotated")
    assert event.details["stage"] == "reencrypted"

    result = runner.invoke(keys_group, ["status"], obj=_runtime(db, tmp_path, new_ring, dev=True))
    assert "(newest: encrypts): 1 token sets" in result.output
    assert f"{RING.split(':')[0]}: 0 token sets" in result.output


def test_keys_rotate_in_production_prints_the_ring_then_reencrypt_finishes(
    db: Database, vault: TokenVault, tmp_path: Path
) -> None:
    seed(db, vault, timedelta(hours=1))
    runner = CliRunner()
    result = runner.invoke(keys_group, ["rotate"], obj=_runtime(db, tmp_path, RING, dev=False))
    assert result.exit_code == 0, result.output
    new_ring = result.stdout.strip()
    assert KeyRing.parse(new_ring).key_ids[0] == RING.split(":")[0]
    assert key_usage(db) == {RING.split(":")[0]: 1}  # nothing re-sealed before deployment
    result = runner.invoke(keys_group, ["reencrypt"], obj=_runtime(db, tmp_path, new_ring, dev=False))
    assert result.exit_code == 0, result.output
    assert key_usage(db) == {KeyRing.parse(new_ring).newest_id: 1}
    assert new_ring not in result.output.replace(result.stdout, "")

    retired = runner.invoke(
        keys_group, ["retire", RING.split(":")[0]], obj=_runtime(db, tmp_path, new_ring, dev=False)
    )
    assert retired.exit_code == 0, retired.output
    assert KeyRing.parse(retired.stdout.strip()).key_ids == (KeyRing.parse(new_ring).newest_id,)




def test_roles_from_a_refreshed_identity_are_written_to_the_account(
    db: Database, vault: TokenVault, audit: AuditLog, provider: CountingProvider
) -> None:
    account_id = seed(db, vault, timedelta(minutes=-1))
    original = provider.refresh

    def refresh_with_identity(refresh_token: str, previous: Identity) -> RefreshResult:
        result = original(refresh_token, previous)
        return RefreshResult(result.tokens, replace(previous, roles=frozenset({"admin"})))

    provider.refresh = refresh_with_identity  # type: ignore[method-assign]
    vault.access_token(db, account_id, {"contoso": provider}, audit)
    assert account_of(db, account_id).roles == ["admin"]


def test_a_refresh_without_an_identity_keeps_the_roles(
    db: Database, vault: TokenVault, audit: AuditLog, provider: CountingProvider
) -> None:
    account_id = seed(db, vault, timedelta(minutes=-1))
    before = account_of(db, account_id).roles
    vault.access_token(db, account_id, {"contoso": provider}, audit)
    assert account_of(db, account_id).roles == before
