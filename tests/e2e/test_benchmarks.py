"""The benchmark scripts still run, at a tiny size: a script nobody runs rots silently (the
admin-console one had, when a function it imported moved). Nothing here checks a timing;
the figures belong to benchmarks/README.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


def bench(script: str, *args: str, timeout: int = 240) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HUB_BENCH_DATABASE_URL": ""},
        timeout=timeout,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_admin_console_benchmark_runs_and_meets_its_goals_table():
    out = bench("admin_console.py", "--sizes", "30", "--repeat", "3")
    assert "| accounts list, first page |" in out and "| user detail |" in out


def test_the_signin_benchmark_signs_people_in_through_gunicorn_and_in_process():
    out = bench(
        "signin.py", "--skip-postgres", "--signins", "8", "--in-process", "5", "--callbacks", "5",
    )
    rows = [line.split() for line in out.splitlines() if line.startswith("SQLite ")]
    gunicorn_rows = [row for row in rows if row[1] in {"1", "4"}]
    assert [int(row[2]) for row in gunicorn_rows] == [20, 8]  # every sign-in completed (concurrency 1 runs at least 20)
    assert "Python calls per sign-in" in out and "Hub-side time of one callback" in out


def test_the_floor_benchmark_measures_a_bare_app_and_the_hubs_cheapest_pages():
    out = bench("floor.py", "--requests", "20")
    for row in ("bare Flask app, GET /", "hub, GET /healthz", "hub, GET /login", "client side:"):
        assert row in out


ON_POSTGRESQL = pytest.mark.skipif(
    not (os.environ.get("HUB_TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="this benchmark runs on PostgreSQL: in the PostgreSQL pass (HUB_TEST_DATABASE_URL)",
)


@contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """A database of its own on the pass's PostgreSQL server, dropped afterwards: the benchmarks
    wipe what they are given."""
    import psycopg

    server = make_url(os.environ["HUB_TEST_DATABASE_URL"])
    name = f"{prefix}_{os.getpid()}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@ON_POSTGRESQL
@pytest.mark.postgresql
def test_the_issuer_benchmark_redeems_codes_and_refreshes_on_postgresql():
    with own_database("hub_bench_smoke") as url:
        out = bench("issuer.py", "--codes", "10", "--refreshes", "20", "--database-url", url)
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("authorization_code ", "refresh_token "))}
    assert (rows["authorization_code"][1], rows["refresh_token"][1]) == ("10", "20")  # it stops at the first non-200


@ON_POSTGRESQL
@pytest.mark.postgresql
def test_two_nodes_take_a_burst_of_first_authorizations_and_concurrent_refresh_retries():
    """Issue 16: two hubs on one database, each pair's first authorization at both at once,
    each refresh token presented 2-4 times at once across both: no 5xx, no server_error, every
    code redeemed, no family lost, and reuse after the grace window still refused."""
    with own_database("hub_bench_two_nodes_smoke") as url:
        out = bench(
            "two_nodes.py", "--people", "4", "--apps", "2", "--refreshes", "6", "--grace", "5", "--json",
            "--database-url", url, timeout=400,
        )
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["server_errors"], result["server_error_redirects"], result["families_lost"]) == (0, 0, 0)
    assert result["codes_redeemed"] == result["sign_ins"] == 16
    assert result["grants"] == result["pairs"] == 8
    assert result["steps"]["refresh_retry"]["statuses"] == {"200": 18}  # 2 + 3 + 4 copies, twice
    assert result["steps"]["reuse"]["statuses"] == {"400": 12}  # the rotated-out token and the newest, per family
    assert result["findings"] == {}


@ON_POSTGRESQL
@pytest.mark.postgresql
def test_a_hundred_refreshes_across_two_hubs_cause_one_upstream_check():
    """Issue 19's single flight across processes: one person's check is due and a hundred refresh
    grants for them arrive at once, alternating between two hubs (separate gunicorn trees) on one
    database: the provider sees exactly one refresh and every grant is answered 200, by both hubs."""
    with own_database("hub_bench_checks_smoke") as url:
        out = bench(
            "upstream_checks.py", "--refreshes", "8", "--due", "2", "--interval", "8", "--nodes", "2",
            "--workers", "1", "--json", "--database-url", url, timeout=400,
        )
    result = json.loads(out.strip().splitlines()[-1])
    flight = result["single_flight"]
    assert flight["seconds"] < 8, "the burst outlasted the check interval: a second check would be due"
    assert (flight["grants"], flight["ok"], flight["upstream_calls"]) == (100, 100, 1)
    assert flight["ok_per_node"] == [50, 50]
    assert result["due"]["upstream_calls"] == 2 and result["not_due"]["upstream_calls"] == 0
    assert 0 < result["cut_off_seconds"] < 8 * 4 + 10
