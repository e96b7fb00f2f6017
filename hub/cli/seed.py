"""Fill a database with realistic fake users, linked accounts, token sets and audit events, fast.

For demos, the admin console's benchmarks and load tests: never for production data. Rows go
in with bulk INSERTs (executemany) a batch at a time, so 100,000 linked accounts take seconds
rather than the minutes that ORM objects one by one would. Token sets hold real AEAD
ciphertext (sealed by the vault's key ring, bound to their rows) of made-up tokens, so the
vault can read them; audit events are chained with the audit key exactly like hub.core.audit
writes them, so `hub audit verify` passes afterwards. The generator is seeded: the same N
gives the same data. Run it on an idle database: ids are taken from max(id) at the start.
"""

from __future__ import annotations

import json
import random
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from hub.core.audit import ADVISORY_LOCK_ID, GENESIS_MAC, chain_mac
from hub.core.db import write_transaction
from hub.core.keyring import token_set_binding
from hub.core.models import AuditEvent, LinkedAccount, TokenSet, User, utcnow
from hub.runtime import Runtime

Progress = Callable[[int, int], None]
"""(rows written so far, rows in total)."""

BATCH = 5_000
DEFAULT_PROVIDERS = ("contoso", "fabrikam", "github")
FIRST = (
    "Ada", "Ben", "Chloé", "Dev", "Emma", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kai", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Xena",
    "Yusuf", "Zoë", "Aiko", "Bruno", "Carmen", "Dmitri", "Elif", "Farah", "Gustav", "Hana",
)
LAST = (
    "Ahmed", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jensen",
    "Kowalski", "Lopez", "Müller", "Nakamura", "O'Brien", "Patel", "Quist", "Rossi", "Schmidt",
    "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Silva", "Novak", "Kim", "Okafor",
)
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/126.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile/15E148",
)
SCOPES = ("openid", "profile", "email", "offline_access", "User.Read")
FAILURE_REASONS = ("provider_denied", "token_rejected", "signin_expired", "access_denied", "provider_unavailable")


@dataclass(frozen=True)
class SeedReport:
    users: int
    linked_accounts: int
    token_sets: int
    audit_events: int
    seconds: float


def seed(
    rt: Runtime,
    count: int,
    *,
    providers: Sequence[str] | None = None,
    days: int = 30,
    progress: Progress | None = None,
    random_seed: int = 20261125,
) -> SeedReport:
    """Add `count` linked accounts (for about 0.8·count users) and their tokens and events."""
    if count < 1:
        raise ValueError("count must be at least 1")
    started = utcnow()
    rng = random.Random(random_seed + count)
    provider_ids = tuple(providers or rt.providers or DEFAULT_PROVIDERS)
    with rt.db.session() as session:
        next_user, next_account, next_token = (
            (session.scalar(select(func.max(model.id))) or 0) + 1 for model in (User, LinkedAccount, TokenSet)
        )
    plan = _plan(rng, count, provider_ids, next_user, next_account, started)
    total = count * 2 + len(plan.users) + len(plan.events)
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress:
            progress(done, total)

    advance(0)
    token_rows = _token_rows(rt, rng, plan.accounts, next_token, started)
    for start in range(0, len(plan.users), BATCH):
        with write_transaction(rt.db) as session:
            session.execute(insert(User.__table__), plan.users[start : start + BATCH])
        advance(len(plan.users[start : start + BATCH]))
    for start in range(0, count, BATCH):
        with write_transaction(rt.db) as session:
            session.execute(insert(LinkedAccount.__table__), plan.accounts[start : start + BATCH])
            tokens = [row for row in token_rows[start : start + BATCH] if row is not None]
            if tokens:
                session.execute(insert(TokenSet.__table__), tokens)
        advance(2 * len(plan.accounts[start : start + BATCH]))
    _advance_sequences(rt)
    events = _append_events(rt, plan.events, advance, count)
    return SeedReport(
        users=len(plan.users),
        linked_accounts=count,
        token_sets=sum(1 for row in token_rows if row is not None),
        audit_events=events,
        seconds=(utcnow() - started).total_seconds(),
    )


@dataclass
class _Plan:
    users: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _plan(
    rng: random.Random, count: int, provider_ids: Sequence[str], next_user: int, next_account: int, now: datetime
) -> _Plan:
    """Users with one to three accounts each (at distinct providers), and their sign-in history."""
    users: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    tenants = {pid: str(uuid.UUID(int=rng.getrandbits(128))) for pid in provider_ids}
    user_id = next_user
    while len(accounts) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        handle = _ascii(f"{first}.{last}").lower() + str(user_id)
        wanted = 1 if rng.random() < 0.75 else (2 if rng.random() < 0.8 else 3)
        chosen = rng.sample(list(provider_ids), min(wanted, len(provider_ids), count - len(accounts)))
        created = now - timedelta(days=rng.uniform(1, 720), seconds=rng.uniform(0, 86400))
        last_seen: datetime | None = None
        for position, provider_id in enumerate(chosen):
            account_id = next_account + len(accounts)
            linked_at = created + timedelta(days=position * rng.uniform(0, 30))
            linked_at = min(linked_at, now - timedelta(minutes=5))
            signed_in = None if rng.random() < 0.03 else now - timedelta(days=rng.expovariate(1 / 12), seconds=rng.uniform(0, 3600))
            if signed_in is not None and signed_in < linked_at:
                signed_in = linked_at
            accounts.append({
                "id": account_id,
                "user_id": user_id,
                "provider_id": provider_id,
                "subject": _subject(rng, provider_id, tenants[provider_id]),
                "issuer": f"https://{provider_id}.example/",
                "tenant": tenants[provider_id] if "github" not in provider_id else None,
                "display_name": name,
                "email": f"{handle}@{provider_id}.example",
                "email_verified": rng.random() < 0.9,
                "roles": ["admin"] if rng.random() < 0.001 else [],
                "profile": {"given_name": first, "family_name": last, "job_title": rng.choice(("Engineer", "Analyst", "Nurse", "Teacher", "Manager"))},
                "linked_at": linked_at,
                "last_sign_in_at": signed_in,
                "needs_reauth": rng.random() < 0.06,
            })
            last_seen = max(filter(None, (last_seen, signed_in)), default=None)
            events += _history(rng, user_id, provider_id, account_id, now, position > 0, linked_at)
        users.append({
            "id": user_id,
            "display_name": name,
            "email": f"{handle}@{chosen[0]}.example",
            "is_admin": False,
            "disabled_at": now - timedelta(days=rng.uniform(0, 60)) if rng.random() < 0.01 else None,
            "created_at": created,
            "last_sign_in_at": last_seen,
        })
        user_id += 1
    return _Plan(users, accounts, events)


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum() or ch == ".")


def _subject(rng: random.Random, provider_id: str, tenant: str) -> str:
    if "github" in provider_id:
        return str(rng.randrange(10**6, 10**9)) + f"-{rng.getrandbits(24):06x}"
    return f"{tenant}:{uuid.UUID(int=rng.getrandbits(128))}"


def _history(
    rng: random.Random, user_id: int, provider_id: str, account_id: int, now: datetime, linked_later: bool, linked_at: datetime
) -> list[dict[str, Any]]:
    """Sign-ins (some failing) over the last 30 days, and the link event if it was recent."""
    events = []
    ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    agent = rng.choice(AGENTS)
    for _ in range(min(int(rng.expovariate(1 / 1.5)), 8)):
        at = now - timedelta(days=rng.uniform(0, 30))
        failed = rng.random() < 0.07
        details: dict[str, Any] = {"linked_account_id": account_id}
        if failed:
            details["reason"] = rng.choice(FAILURE_REASONS)
        events.append(_event(at, "signin", "failure" if failed else "success", user_id, provider_id, ip, agent, details))
    if linked_later and linked_at > now - timedelta(days=30):
        events.append(_event(linked_at, "link", "success", user_id, provider_id, ip, agent, {"linked_account_id": account_id}))
    return events


def _event(at: datetime, kind: str, outcome: str, user_id: int, provider_id: str, ip: str, agent: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "occurred_at": at, "type": kind, "outcome": outcome, "actor_user_id": user_id,
        "subject_user_id": user_id, "provider_id": provider_id, "ip": ip, "user_agent": agent,
        "request_id": None, "details": {**details, "seeded": True},
    }


def _token_rows(
    rt: Runtime, rng: random.Random, accounts: list[dict[str, Any]], next_token: int, now: datetime
) -> list[dict[str, Any] | None]:
    """A token set for 95% of accounts: sealed fake tokens, with varied expiry and refresh health."""
    rows: list[dict[str, Any] | None] = []
    token_id = next_token
    for account in accounts:
        if rng.random() < 0.05 and not account["needs_reauth"]:
            rows.append(None)
            continue
        payload = {
            "v": 1,
            "access_token": "seed-" + secrets.token_hex(12),
            "refresh_token": "seed-" + secrets.token_hex(12),
            "id_token": None,
        }
        key_id, sealed = rt.vault.keyring.encrypt(
            json.dumps(payload, separators=(",", ":")).encode(), token_set_binding(account["id"])
        )
        requested = list(SCOPES)
        granted = [s for s in requested if s != "email"] if rng.random() < 0.05 else requested
        valid = rng.random() < 0.35
        expires = now + timedelta(minutes=rng.uniform(1, 60)) if valid else now - timedelta(hours=rng.uniform(0.1, 24 * 20))
        refreshed = None if rng.random() < 0.3 else expires - timedelta(hours=1)
        rows.append({
            "id": token_id,
            "linked_account_id": account["id"],
            "key_id": key_id,
            "ciphertext": sealed,
            "access_expires_at": expires,
            "scopes_granted": " ".join(granted),
            "scopes_requested": " ".join(requested),
            "last_refresh_at": refreshed,
            "refresh_failures": rng.randint(1, 5) if account["needs_reauth"] else (1 if rng.random() < 0.02 else 0),
            "version": 1,
            "updated_at": refreshed or account["linked_at"],
        })
        token_id += 1
    return rows


def _append_events(rt: Runtime, events: list[dict[str, Any]], advance: Callable[[int], None], count: int) -> int:
    """Chain the events after the current head, in time order, holding the audit lock."""
    events.sort(key=lambda event: event["occurred_at"])
    key = rt.keys.audit_key
    with write_transaction(rt.db) as session:
        _lock_audit(session)
        head = session.execute(select(AuditEvent.seq, AuditEvent.mac).order_by(AuditEvent.seq.desc()).limit(1)).first()
        seq, previous = (head.seq, head.mac) if head else (0, GENESIS_MAC)
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            for event in batch:
                seq += 1
                event["seq"] = seq
                event["mac"] = previous = chain_mac(key, previous, SimpleNamespace(**event))
            session.execute(insert(AuditEvent.__table__), batch)
            advance(len(batch))
        rt.audit.record(session, "admin.seed", "success", details={"linked_accounts": count, "events": len(events)})
    return len(events) + 1


def _advance_sequences(rt: Runtime) -> None:
    """Rows went in with explicit ids (to bind token ciphertext to them without a round trip),
    so PostgreSQL's id sequences must be moved past them, or the next sign-in collides."""
    if rt.db.is_sqlite:
        return  # SQLite's rowid allocation follows max(id) by itself
    with write_transaction(rt.db) as session:
        for table in ("users", "linked_accounts", "token_sets"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - table names are the constants above
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )


def _lock_audit(session: Session) -> None:
    """The lock hub.core.audit.record takes, so no other appender forks the chain meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))
