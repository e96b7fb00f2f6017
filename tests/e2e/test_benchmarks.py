"""The benchmark scripts still run, at a tiny size: a script nobody runs rots silently (the
admin-console one had, when a function it imported moved). Nothing here checks a timing;
the figures belong to benchmarks/README.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
