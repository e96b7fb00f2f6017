"""Sign-in benchmark: complete sign-ins per second, latency and the hub's CPU per sign-in through
the Entra emulator over real HTTP (hub under `gunicorn -w 2`, sync workers, SQLite and
PostgreSQL, concurrency 1 and 4), and the hub-side time of one callback with the provider
answering instantly, with a profile of where it goes.

    uv run python benchmarks/signin.py                       # SQLite, and PostgreSQL if reachable
    uv run python benchmarks/signin.py --signins 300 --skip-postgres

CPU per sign-in is read from /proc: utime + stime of the gunicorn master and its workers before
and after each run, divided by the sign-ins completed. The emulator and the load driver run in
this process and are not counted. Loopback only; every load loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from measure import cpu_split, free_port, percentile, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TIME_LIMIT = 60.0
REDIS_URL: str | None = None
"""Rate-limit storage for the gunicorn runs (--redis); None keeps the in-memory storage."""


# --- through the emulator, hub under gunicorn ---------------------------------------------------


def one_sign_in(base_url: str) -> float:
    started = time.perf_counter()
    browser = requests.Session()
    login = browser.get(f"{base_url}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    done = browser.post(f"{base_url}/auth/entra/start", data={"csrf_token": token}, timeout=30)
    if done.status_code != 200 or not done.url.endswith("/account"):
        raise RuntimeError(f"sign-in failed: {done.status_code} {done.url}")
    return time.perf_counter() - started







def load(base_url: str, concurrency: int, count: int, server_pid: int | None = None) -> dict[str, float]:
    deadline = time.monotonic() + TIME_LIMIT
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(_: int) -> None:
        if time.monotonic() > deadline:
            return
        elapsed = one_sign_in(base_url)
        with lock:
            latencies.append(elapsed)

    user_before, system_before = cpu_split(server_pid) if server_pid else (0.0, 0.0)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(count)))
    wall = time.perf_counter() - started
    user_after, system_after = cpu_split(server_pid) if server_pid else (float("nan"), float("nan"))
    cpu = (user_after - user_before) + (system_after - system_before)
    return {
        "signins": len(latencies),
        "per_second": len(latencies) / wall,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "cpu_ms": cpu * 1000 / max(1, len(latencies)),
        "kernel_ms": (system_after - system_before) * 1000 / max(1, len(latencies)),
    }


def gunicorn_hub(
    database_url: str, emulator, workdir: Path, workers: int, profile: Path | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    emulator.add_redirect_uri(f"{base_url}/auth/entra/callback")
    settings = emulator.provider_settings()
    lines = ["[providers.entra]", 'type = "entra"', 'name = "Microsoft"']
    for key, value in settings.items():
        if isinstance(value, dict):
            lines.append(f"{key} = {{ " + ", ".join(f'"{k}" = "{v}"' for k, v in value.items()) + " }")
        elif isinstance(value, list):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        else:
            lines.append(f'{key} = "{value}"')
    config = workdir / "hub.toml"
    config.write_text("\n".join(lines) + "\n")
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "HUB_INSTANCE_PATH": str(workdir),
        "HUB_CONFIG": str(config),
        "HUB_DATABASE_URL": database_url,
        "HUB_BASE_URL": base_url,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_DOTENV": str(workdir / "none.env"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),  # as in production: workers share counters
        # The limits stay on (their checks are part of the cost) but far above a benchmark's rate.
        "HUB_RATELIMIT_SIGNIN": "100000 per minute",
        "HUB_RATELIMIT_CALLBACK": "100000 per minute",
        "HUB_RATELIMIT_ANONYMOUS": "100000 per minute",
        **({"HUB_RATELIMIT_STORAGE": REDIS_URL, "HUB_RATELIMIT_KEY_PREFIX": f"hub-bench-{port}"} if REDIS_URL else {}),
    }
    subprocess.run([sys.executable, "-c", "from hub.cli.main import main; main()", "db", "upgrade"], env=env, check=True, capture_output=True)
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "hub.wsgi:app"]
    if profile:  # py-spy samples master and workers; its own CPU then counts in the tree too
        command = ["py-spy", "record", "--subprocesses", "--rate", "250", "--format", "raw", "-o", str(profile), "--", *command]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=workdir,
    )
    wait_until_serving(process, f"{base_url}/readyz")
    return process, base_url


def through_emulator(
    database: str, database_url: str, signins: int, workers: int, profile: Path | None = None
) -> list[tuple]:
    from hub_entra.emulator import EntraEmulator

    rows = []
    with EntraEmulator() as emulator, tempfile.TemporaryDirectory() as workdir:
        emulator.auto_sign_in = "bob@contoso.example"
        process, base_url = gunicorn_hub(database_url, emulator, Path(workdir), workers, profile)
        try:
            load(base_url, 4, 20)  # warm-up: each worker fetches discovery and keys once
            for concurrency, count in ((1, max(20, signins // 4)), (4, signins)):
                before = dict(emulator.requests)
                result = load(base_url, concurrency, count, process.pid)
                fetches = (emulator.requests["discovery"] - before.get("discovery", 0)) + (emulator.requests["keys"] - before.get("keys", 0))
                rows.append((database, concurrency, result, fetches))
        finally:
            process.send_signal(signal.SIGINT if profile else signal.SIGTERM)  # py-spy writes on SIGINT
            process.wait(timeout=60)
    return rows


# --- hub-side time of one callback, provider answering instantly --------------------------------


def hub_side(iterations: int) -> tuple[dict[str, float], str]:
    import responses

    from hub.app import create_app
    from hub.core.config import load_settings
    from hub.plugin.manager import load_plugins
    from hub_entra import testing as entra_testing

    with tempfile.TemporaryDirectory() as workdir, responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = entra_testing.FakeEntra(mock, entra_testing.Clock(time.time()))
        settings = load_settings(
            environ={},
            overrides={
                "instance_path": workdir,
                "providers": {"entra": {"type": "entra", **entra_testing.entra_settings()}},
                "log_level": "WARNING",
                # One browser prepares 100 sign-ins before the profiled callbacks, far above a
                # person's rate: lift the limits and the per-browser cap for this measurement.
                "ratelimit_signin": "100000 per minute",
                "ratelimit_callback": "100000 per minute",
                "ratelimit_anonymous": "100000 per minute",
                "pending_signins_per_browser": 200,
            },
        )
        app = create_app(settings=settings, plugins=load_plugins(("entra",)), migrate_database=True)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        def prepare() -> tuple[str, dict]:
            """Start a sign-in and sign the provider's answer before the clock starts."""
            location = client.post("/auth/entra/start", data={"csrf_token": csrf}).headers["Location"]
            query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            fake.clock.now = time.time()
            answer = fake.token_response(fake.id_token(nonce=query["nonce"]))
            return f"/auth/entra/callback?code=c&state={query['state']}", answer

        def callback(prepared: tuple[str, dict]) -> float:
            path, fake.token_body = prepared
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
            return elapsed

        for _ in range(20):
            callback(prepare())
        timings = [callback(prepare()) for _ in range(iterations)]
        profiler = cProfile.Profile()
        prepared = [prepare() for _ in range(100)]
        profiler.enable()
        for one in prepared:
            callback(one)
        profiler.disable()
        app.extensions["hub"].close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"hub|sqlalchemy/orm/session|joserfc|cryptography|requests/sessions|werkzeug/test", 22)
    summary = {"median_ms": statistics.median(timings) * 1000, "p95_ms": percentile(timings, 0.95) * 1000}
    return summary, out.getvalue()


def in_process_cpu(database_url: str, iterations: int) -> dict[str, float]:
    """CPU per complete sign-in with the hub in this process (Flask test client, Entra mocked
    with `responses`): GET /login, POST start, the callback, GET /account, each by a new
    browser. The fake provider's token signing is kept off the clock. Less noisy than the
    gunicorn run on a busy machine, so it is the A/B measure for one change at a time."""
    import responses

    from hub.app import create_app
    from hub.core.config import load_settings
    from hub.plugin.manager import load_plugins
    from hub_entra import testing as entra_testing

    with tempfile.TemporaryDirectory() as workdir, responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = entra_testing.FakeEntra(mock, entra_testing.Clock(time.time()))
        settings = load_settings(
            environ={},
            overrides={
                "instance_path": workdir,
                "database_url": database_url,
                "providers": {"entra": {"type": "entra", **entra_testing.entra_settings()}},
                "log_level": "WARNING",
                "ratelimit_signin": "100000 per minute",
                "ratelimit_callback": "100000 per minute",
                "ratelimit_anonymous": "100000 per minute",
            },
        )
        app = create_app(settings=settings, plugins=load_plugins(("entra",)), migrate_database=True)

        def one(counter: Any = None) -> float:
            browser = app.test_client()
            sys.setprofile(counter)
            started = time.process_time()
            page = browser.get("/login").get_data(as_text=True)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            location = browser.post("/auth/entra/start", data={"csrf_token": csrf}).headers["Location"]
            spent = time.process_time() - started
            sys.setprofile(None)  # the provider's signing is not the hub's work
            query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            fake.clock.now = time.time()
            fake.token_body = fake.token_response(fake.id_token(nonce=query["nonce"]))
            sys.setprofile(counter)
            started = time.process_time()
            done = browser.get(f"/auth/entra/callback?code=c&state={query['state']}")
            landed = browser.get(done.headers["Location"], follow_redirects=True)
            spent += time.process_time() - started
            sys.setprofile(None)
            assert landed.status_code == 200 and landed.request.path == "/account", landed.status_code
            return spent

        for _ in range(30):
            one()
        cpu = [one() for _ in range(iterations)]
        calls = [0]

        def count(_frame: object, event: str, _arg: object) -> None:
            if event in ("call", "c_call"):
                calls[0] += 1

        for _ in range(20):
            one(count)
        app.extensions["hub"].close()
    return {
        "mean_ms": statistics.fmean(cpu) * 1000,
        "median_ms": statistics.median(cpu) * 1000,
        "calls": calls[0] / 20,
    }


def postgres_url(name: str) -> str | None:
    """A fresh database `name` (dropped first: never give it a database you keep)."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception as error:  # the benchmark reports what it could not measure
        print(f"PostgreSQL not measured: {error}")
        return None


def _profile(args: argparse.Namespace, database: str) -> Path | None:
    return args.profile.with_name(f"{args.profile.stem}-{database}.txt").resolve() if args.profile else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=200, help="sign-ins at concurrency 4 (a quarter at 1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--callbacks", type=int, default=300, help="in-process callbacks timed")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-gunicorn", action="store_true", help="no sign-ins through gunicorn")
    parser.add_argument("--in-process", type=int, default=0, metavar="N", help="also CPU per sign-in in process, N sign-ins")
    parser.add_argument("--skip-hub-side", action="store_true", help="no in-process callback timing and profile")
    parser.add_argument("--pg-database", default="hub_bench", help="PostgreSQL database to create (WIPED)")
    parser.add_argument("--redis", metavar="URL", help="rate-limit storage as in production, e.g. redis://127.0.0.1:6379/2")
    parser.add_argument("--profile", type=Path, help="run gunicorn under py-spy; collapsed stacks to PROFILE-<db>.txt")
    args = parser.parse_args()
    global REDIS_URL
    REDIS_URL = args.redis

    storage = f"rate limits in {args.redis}" if args.redis else "rate limits in memory"
    print(f"machine: {os.cpu_count()} cores; gunicorn {args.workers} sync workers; {storage}; emulator in this process\n")
    rows = []
    if not args.skip_sqlite and not args.skip_gunicorn:
        with tempfile.TemporaryDirectory() as scratch:
            rows += through_emulator(
                "SQLite", f"sqlite:///{scratch}/bench.sqlite3", args.signins, args.workers, _profile(args, "sqlite")
            )
    pg = None if args.skip_postgres else postgres_url(args.pg_database)
    if pg and not args.skip_gunicorn:
        rows += through_emulator("PostgreSQL", pg, args.signins, args.workers, _profile(args, "postgresql"))
    print("Complete sign-ins through the emulator (GET /login, POST start, authorize, callback, /account):")
    print(f"{'database':<11} {'conc':>4} {'sign-ins':>8} {'per s':>7} {'median ms':>10} {'p95 ms':>8} {'CPU ms/sign-in':>15} {'of it kernel':>13} {'discovery+JWKS':>15}")
    for database, concurrency, result, fetches in rows:
        print(f"{database:<11} {concurrency:>4} {result['signins']:>8} {result['per_second']:>7.1f} {result['median_ms']:>10.1f} {result['p95_ms']:>8.1f} {result['cpu_ms']:>15.2f} {result['kernel_ms']:>13.2f} {fetches:>15}")
    if args.in_process:
        print(f"\nCPU per complete sign-in, hub in process, Entra mocked ({args.in_process} sign-ins):")
        with tempfile.TemporaryDirectory() as scratch:
            targets = [] if args.skip_sqlite else [("SQLite", f"sqlite:///{scratch}/cpu.sqlite3")]
            if pg:
                targets.append(("PostgreSQL", postgres_url(args.pg_database)))
            for database, url in targets:
                result = in_process_cpu(url, args.in_process)
                print(
                    f"{database:<11} mean {result['mean_ms']:.2f} ms, median {result['median_ms']:.2f} ms, "
                    f"{result['calls']:.0f} Python calls per sign-in"
                )
    if args.skip_hub_side:
        return
    summary, profile = hub_side(args.callbacks)
    print(f"\nHub-side time of one callback, provider answering instantly (SQLite, in-process, {args.callbacks} callbacks):")
    print(f"median {summary['median_ms']:.2f} ms, p95 {summary['p95_ms']:.2f} ms\n")
    print("Where it goes (cProfile, 100 callbacks, cumulative):")
    print(profile)


if __name__ == "__main__":
    main()
