"""The audit chain under concurrency (issue 21): audited events per second through the hub's own
API (`AuditLog.record` in its own transaction, one process per connection) at 1, 2, 4, 8 and 16
connections, inline (one lock held to each commit: the code before issue 21) and deferred (the
outbox); the share of active backends waiting on a lock (pg_stat_activity sampled every 20 ms);
the chainer's events per second and its lag (a chainer process beside the writers, the backlog
sampled every 100 ms); and `hub db purge` of a million spent refresh tokens
in batches (transactions, WAL, time).

    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/auditbench \
      uv run python benchmarks/audit_chain.py [seconds per run, default 5] [deferred]

Without the variable it creates (and WIPES) the database `auditbench` on 127.0.0.1.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time

from sqlalchemy import text

sys.path.insert(0, os.path.dirname(__file__))
from measure import fresh_database, percentile  # noqa: E402

from hub.core.audit import BATCH_SIZE, AuditLog, OutboxAuditLog, backlog, chain_all, chain_batch, try_lock  # noqa: E402
from hub.core.db import Database, write_transaction  # noqa: E402
from hub.core.migrate import upgrade  # noqa: E402
from hub.core.models import utcnow  # noqa: E402
from hub.core.purging import delete_in_batches  # noqa: E402

KEY = b"k" * 48
CONNECTIONS = (1, 2, 4, 8, 16)


def writer(url: str, deferred: bool, seconds: float, start: float, results: multiprocessing.Queue) -> None:
    """One connection appending audited events, each in its own transaction, for `seconds`."""
    db = Database(url, pool_size=1, max_overflow=0)
    log = (OutboxAuditLog if deferred else AuditLog)(KEY)
    latencies: list[float] = []
    while time.time() < start:
        time.sleep(0.001)
    end = start + seconds
    while (began := time.perf_counter()) and time.time() < end:
        with write_transaction(db) as session:
            log.record(session, "issuer.refresh", "success", actor_user_id=7, subject_user_id=7,
                       provider_id="contoso", details={"client_id": "app", "family": 12345})
        latencies.append(time.perf_counter() - began)
    db.dispose()
    results.put(latencies)


def chainer(url: str, stop: multiprocessing.Event) -> None:
    """A serving process's chainer (hub.core.audit.Chainer's loop) running beside the writers."""
    db = Database(url, pool_size=1, max_overflow=0)
    while not stop.is_set():
        while (chain_batch(db, KEY, try_lock) or 0) == BATCH_SIZE:
            pass
        stop.wait(0.2)  # audit_chain_interval_ms's default
    db.dispose()


def sample_lag(url: str, stop: threading.Event, lags: list[tuple[int, float]]) -> None:
    """(pending events, age of the oldest) every 100 ms: the chain lag the metrics would show."""
    db = Database(url, pool_size=1, max_overflow=0)
    while not stop.is_set():
        waiting = backlog(db)
        lags.append((waiting.pending, waiting.lag_seconds))
        stop.wait(0.1)
    db.dispose()


def sample_waits(url: str, stop: threading.Event, samples: list[tuple[int, int, int]]) -> None:
    """(active backends, of which waiting on a Lock (the advisory lock is one), on an LWLock
    (WAL insertion and flush)) every 20 ms, this database only."""
    db = Database(url, pool_size=1, max_overflow=0)
    query = text(
        "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock'),"
        " count(*) FILTER (WHERE wait_event_type = 'LWLock') FROM pg_stat_activity "
        "WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
    )
    with db.engine.connect() as connection:
        while not stop.is_set():
            samples.append(tuple(connection.execute(query).one()))
            connection.commit()
            stop.wait(0.02)
    db.dispose()


def run(url: str, deferred: bool, connections: int, seconds: float) -> dict[str, float]:
    results: multiprocessing.Queue = multiprocessing.Queue()
    start = time.time() + 1.0
    workers = [multiprocessing.Process(target=writer, args=(url, deferred, seconds, start, results))
               for _ in range(connections)]
    for worker in workers:
        worker.start()
    stop, samples, lags = threading.Event(), [], []
    samplers = [threading.Thread(target=sample_waits, args=(url, stop, samples)),
                threading.Thread(target=sample_lag, args=(url, stop, lags))]
    chaining = multiprocessing.Event()
    linker = multiprocessing.Process(target=chainer, args=(url, chaining)) if deferred else None
    for thread in samplers:
        thread.start()
    if linker:
        linker.start()
    latencies = [value for _ in workers for value in results.get()]
    for worker in workers:
        worker.join()
    chaining.set()
    if linker:
        linker.join()
    stop.set()
    for thread in samplers:
        thread.join()
    active = sum(s[0] for s in samples) or 1
    return {
        "per_second": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "lock": sum(s[1] for s in samples) / active,
        "lwlock": sum(s[2] for s in samples) / active,
        "max_pending": max((lag[0] for lag in lags), default=0),
        "max_lag": max((lag[1] for lag in lags), default=0.0),
    }


def chainer_rate(db: Database, count: int) -> tuple[float, int]:
    """Events per second `chain_all` links from a full outbox of `count`, and the batches."""
    chain_all(db, KEY)
    log = OutboxAuditLog(KEY)
    with write_transaction(db) as session:  # fill fast: one transaction of `count` outbox rows
        for number in range(count):
            log.record(session, "issuer.refresh", "success", actor_user_id=7, details={"n": number})
    began = time.perf_counter()
    batches = 0
    while chain_batch(db, KEY, try_lock):
        batches += 1
    return count / (time.perf_counter() - began), batches


def purge_million(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, public_subject, is_admin, created_at) VALUES (1, 'bench', false, now());"
            "INSERT INTO applications (id, client_id, name, token_endpoint_auth_method, first_party, redirect_uris,"
            " post_logout_redirect_uris, grant_types, allowed_scopes, id_token_signed_response_alg, pairwise_subject,"
            " created_at, updated_at) VALUES (1, 'bench', 'bench', 'none', true, '{}', '{}', '{}', '', 'RS256', false,"
            " now(), now());"
            "INSERT INTO token_families (id, public_id, application_id, user_id, scope, auth_time, amr, created_at,"
            " expires_at) VALUES (1, 'bench', 1, 1, '', now(), '[]', now(), now() + interval '30 days');"
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, used_at) SELECT md5(i::text) ||"
            " md5((i + 1)::text), 1, now() - interval '2 days', now() - interval '2 days'"
            " FROM generate_series(1, 1000000) AS i;"
            "ANALYZE refresh_tokens"
        ))
        wal_before = connection.execute(text("SELECT pg_current_wal_lsn()")).scalar()
    from hub.issuer import tokens

    sizes: list[int] = []
    times: list[float] = []
    last = [time.perf_counter()]

    def on_batch(deleted: int) -> None:
        now = time.perf_counter()
        sizes.append(deleted)
        times.append(now - last[0])
        last[0] = now

    began = time.perf_counter()
    target = next(t for t in tokens.purge_targets(utcnow()) if t[0].__tablename__ == "refresh_tokens")
    deleted = delete_in_batches(db, target, on_batch=on_batch)
    took = time.perf_counter() - began
    with db.engine.connect() as connection:
        wal = float(connection.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :lsn)"),
                                       {"lsn": wal_before}).scalar())
    print(f"\npurge: {deleted:,} spent refresh tokens in {len(sizes)} transactions of at most {max(sizes):,} rows, "
          f"{took:.1f} s in all; per transaction median {percentile(times, 0.5) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms; WAL {wal / 1e6:.0f} MB in all, {wal / 1e6 / len(sizes):.1f} MB per transaction")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    url = fresh_database(os.environ.get("HUB_BENCH_DATABASE_URL"), "auditbench")
    db = Database(url, pool_size=2, max_overflow=0)
    upgrade(db)
    print("| mode | connections | events/s | p50 ms | p95 ms | active backends waiting: Lock | LWLock "
          "| max pending | max chain lag s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    modes = (True,) if sys.argv[2:] == ["deferred"] else (False, True)
    for deferred in modes:
        for connections in CONNECTIONS:
            figures = run(url, deferred, connections, seconds)
            mode = "deferred (outbox)" if deferred else "inline (before)"
            print(f"| {mode} | {connections} | {figures['per_second']:,.0f} | {figures['p50_ms']:.1f} | "
                  f"{figures['p95_ms']:.1f} | {figures['lock']:.0%} | {figures['lwlock']:.0%} | "
                  f"{figures['max_pending']:,} | {figures['max_lag']:.2f} |", flush=True)
        if deferred:
            waiting = backlog(db)
            began = time.perf_counter()
            drained = chain_all(db, KEY)
            print(f"\nafter the deferred runs: {waiting.pending:,} pending, oldest {waiting.lag_seconds:.1f} s; "
                  f"chained in {time.perf_counter() - began:.1f} s ({drained:,})")
    rate, batches = chainer_rate(db, 50_000)
    print(f"chainer: {rate:,.0f} events/s linking 50,000 pending events in {batches} batches")
    with db.session() as session:
        from hub.core.audit import verify

        result = verify(session, KEY)
    print(f"verify: ok={result.ok}, {result.checked:,} events")
    purge_million(db)
    db.dispose()


if __name__ == "__main__":
    main()
