"""Benchmark: admin console server time at 1,000 and 100,000 linked accounts (SQLite, PostgreSQL).

Seeds a fresh database per size with hub.cli.seed, signs an administrator in, and times whole
requests through the Flask test client in this process (routing, guard, query, template):
the accounts list's first page, a deep keyset page (90% down the list), a user's detail page
and a search. Prints medians, p95 and the 100k/1k ratio of medians. Goals: list and user
detail < 20 ms median, search < 50 ms, ratio <= 1.5.

    uv run python benchmarks/admin_console.py [--sizes 1000,100000] [--repeat 200]
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench uv run python benchmarks/admin_console.py

The PostgreSQL database named there is WIPED (schema public dropped) for each size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from hub.app import create_app
from hub.cli.seed import seed
from hub.console.cursors import SORTS, Cursor
from hub.core import sessions
from hub.core.config import load_settings
from hub.core.db import Database, write_transaction
from hub.core.migrate import upgrade
from hub.core.models import LinkedAccount, User
from hub.plugin.manager import load_plugins

GOALS_MS = {
    "accounts list, first page": 20,
    "accounts list, deep keyset page": 20,
    "user detail": 20,
    "search, one person's email prefix": 50,
    "search, exact subject": 50,
    "search, common prefix (matches grow with N)": 50,
}


def fresh_database(url: str | None, workdir: Path, size: int) -> str:
    if url is None:
        return f"sqlite:///{workdir / f'bench-{size}.sqlite3'}"
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()
    return url


def build(url: str, workdir: Path, size: int) -> tuple[FlaskClient, dict[str, str], float]:
    database = Database(url)
    upgrade(database)
    database.dispose()
    settings = load_settings(
        environ={},
        overrides={"instance_path": str(workdir / f"instance-{size}"), "database_url": url, "base_url": "http://localhost:5001", "log_level": "WARNING"},
    )
    app = create_app(settings=settings, plugins=load_plugins(discover=False))
    rt = app.extensions["hub"]
    started = time.perf_counter()
    seed(rt, size)
    seed_seconds = time.perf_counter() - started
    if not rt.db.is_sqlite:
        with rt.db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    client = app.test_client()
    client.set_cookie("hub_session", admin_session(rt), domain="localhost")
    return client, targets(rt, size), seed_seconds


def admin_session(rt) -> str:  # type: ignore[no-untyped-def]
    with write_transaction(rt.db) as session:
        admin = User(display_name="Bench Admin", email="admin@bench.example", is_admin=True)
        session.add(admin)
        session.flush()
        return sessions.create(session, admin.id, sessions.session_policy(rt.settings), provider_id=None, linked_account_id=None, roles=frozenset())


def targets(rt, size: int) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """URLs to time. The deep cursor is found once with OFFSET here; the page itself never uses it."""
    with rt.db.session() as session:
        deep = session.execute(
            select(LinkedAccount.linked_at, LinkedAccount.id)
            .order_by(LinkedAccount.linked_at.desc(), LinkedAccount.id.desc())
            .offset(int(size * 0.9))
            .limit(1)
        ).one()
        user_id = session.scalar(
            select(LinkedAccount.user_id)
            .where(LinkedAccount.user_id >= size // 3)
            .group_by(LinkedAccount.user_id)
            .having(func.count() > 1)
            .order_by(LinkedAccount.user_id)
            .limit(1)
        )
        email, subject = session.execute(select(LinkedAccount.email, LinkedAccount.subject).where(LinkedAccount.id == size // 2)).one()
    cursor = Cursor((deep.linked_at, deep.id)).encode()
    assert SORTS["linked_desc"].keys[0] is LinkedAccount.linked_at
    handle = email.split("@")[0]  # "first.last123": one person, whatever N is
    common = handle.split(".")[0] + "." + handle.split(".")[1][:2]  # "first.la": ~N/1000 matches
    return {
        "accounts list, first page": "/admin/accounts",
        "accounts list, deep keyset page": f"/admin/accounts?after={cursor}",
        "user detail": f"/admin/users/{user_id}",
        "search, one person's email prefix": f"/admin/accounts?q={quote(handle.upper())}",
        "search, exact subject": f"/admin/accounts?q={quote(subject)}",
        "search, common prefix (matches grow with N)": f"/admin/accounts?q={quote(common)}",
    }


def timed(client: FlaskClient, url: str, repeat: int) -> list[float]:
    for _ in range(max(10, repeat // 10)):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:500])
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def run(url: str | None, sizes: list[int], repeat: int, log: Callable[[str], None]) -> dict[int, dict[str, list[float]]]:
    results: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        for size in sizes:
            database_url = fresh_database(url, Path(tmp), size)
            client, urls, seconds = build(database_url, Path(tmp), size)
            log(f"  seeded {size:,} linked accounts in {seconds:.1f} s")
            results[size] = {name: timed(client, target, repeat) for name, target in urls.items()}
            client.application.extensions["hub"].close()
    return results


def table(backend: str, results: dict[int, dict[str, list[float]]]) -> str:
    small, large = min(results), max(results)
    lines = [
        f"### {backend}: server time per request, ms ({len(next(iter(results[small].values())))} requests each)",
        "",
        f"| page | {small:,} median | {small:,} p95 | {large:,} median | {large:,} p95 | ratio | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in results[small]:
        a, b = results[small][name], results[large][name]
        ratio = statistics.median(b) / statistics.median(a)
        met = statistics.median(b) < GOALS_MS[name] and (ratio <= 1.5 or "grow" in name)
        lines.append(
            f"| {name} | {statistics.median(a):.1f} | {p95(a):.1f} | {statistics.median(b):.1f} | {p95(b):.1f} | "
            f"{ratio:.2f} | < {GOALS_MS[name]} ms, ratio ≤ 1.5: {'met' if met else 'NOT met'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends: list[tuple[str, str | None]] = [("SQLite (file)", None)]
    if os.environ.get("HUB_BENCH_DATABASE_URL"):
        backends.append(("PostgreSQL", os.environ["HUB_BENCH_DATABASE_URL"]))
    for name, url in backends:
        print(f"{name}:", file=sys.stderr)
        results = run(url, sizes, args.repeat, lambda line: print(line, file=sys.stderr))
        print(table(name, results))
        print()


if __name__ == "__main__":
    main()
