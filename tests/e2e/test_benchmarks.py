"""The benchmark scripts still run, at a tiny size: a script nobody runs rots silently (the
admin-console one had, when a function it imported moved). Nothing here checks a timing;
the figures belong to benchmarks/README.md."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.mark.skipif(
    not (os.environ.get("HUB_TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="the issuer benchmark runs on PostgreSQL: in the PostgreSQL pass (HUB_TEST_DATABASE_URL)",
)
def test_the_issuer_benchmark_redeems_codes_and_refreshes_on_postgresql():
    import psycopg

    server = make_url(os.environ["HUB_TEST_DATABASE_URL"])
    name = f"hub_bench_smoke_{os.getpid()}"  # its own database: the benchmark wipes what it is given
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        out = bench(
            "issuer.py", "--codes", "10", "--refreshes", "20",
            "--database-url", server.set(database=name).render_as_string(hide_password=False),
        )
        rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("authorization_code ", "refresh_token "))}
        assert (rows["authorization_code"][1], rows["refresh_token"][1]) == ("10", "20")  # it stops at the first non-200
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
