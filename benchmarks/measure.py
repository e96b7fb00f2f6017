"""What the benchmarks measure with: the CPU time of a server's whole process tree (gunicorn's
master and workers) read from /proc, so they count what the server spent and not the load
driver beside it; percentiles; a free port on 127.0.0.1. And what they measure: a hub on a
fresh PostgreSQL database, its people signed in directly in the database, under gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """The pid and every descendant's; a process that ends while we walk is skipped."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                queue.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(root: int) -> float:
    """utime + stime of the process tree, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    user, system = cpu_split(root)
    return user + system


def cpu_split(root: int) -> tuple[float, float]:
    """(utime, stime) of the process tree in seconds: the Python work, and the kernel's
    (socket and file system calls) on the server's behalf."""
    user = system = 0
    for pid in process_tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
        user += int(fields[11])
        system += int(fields[12])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def wait_until_serving(process: subprocess.Popen, url: str, limit: float = 60.0, log: Path | None = None) -> None:
    """Return once `url` answers 200; kill the server and raise with its last words (its stderr
    pipe, or `log`) if it does not within `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.kill()
    said = process.stderr.read().decode()[-2000:] if process.stderr else ""
    if log is not None and log.exists():
        said = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"the server did not answer {url} in {limit:.0f} s: {said}")


# --- a hub to measure --------------------------------------------------------------------------------

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_database(url: str | None, default_name: str) -> str:
    """`url` as given, or a PostgreSQL database `default_name` on 127.0.0.1, dropped and created
    anew (never name one a person or CI uses: it is WIPED)."""
    if url:
        return url
    if default_name in {"test", "postgres"}:
        raise ValueError(f"refusing to wipe the database {default_name!r}: give the benchmark its own")
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {default_name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {default_name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{default_name}"


def hub_env(database_url: str, workdir: Path, base_url: str) -> dict[str, str]:
    """The environment of a benchmark's hub: its instance folder (secrets made once, shared by
    every process started with this environment), no .env, warnings only in the log."""
    return {
        **os.environ,
        "HUB_INSTANCE_PATH": str(workdir),
        "HUB_CONFIG": str(workdir / "hub.toml"),
        "HUB_DATABASE_URL": database_url,
        "HUB_BASE_URL": base_url,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_DOTENV": str(workdir / "none.env"),
        # The limiter still runs on every token request (its cost is counted), but the default
        # 1200 per minute would stop a run of 300 codes and 1000 refreshes part way.
        "HUB_RATELIMIT_TOKEN": "100000 per minute",
        "HUB_RATELIMIT_ANONYMOUS": "100000 per minute",  # the browsers' anonymous authorize steps
    }


def hub_command(env: dict[str, str], *args: str) -> str:
    """Run `hub ARGS` (the operators' interface) in `env`; its stdout, or an error with its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", "from hub.cli.main import main; main()", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"hub {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def wipe_schema(env: dict[str, str]) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(env["HUB_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def signed_in_people(env: dict[str, str], count: int) -> list[str]:
    """`count` people, each with a hub session made in the database (as a sign-in would leave
    it, without a provider); returns their session cookie values."""
    from hub.core.config import load_settings
    from hub.core.db import write_transaction
    from hub.core.models import User
    from hub.core.sessions import create, session_policy
    from hub.runtime import Runtime

    settings = load_settings(environ=env)
    rt = Runtime.load(settings)
    try:
        with write_transaction(rt.db) as session:
            users = [User(display_name=f"Bench Person {number}") for number in range(1, count + 1)]
            session.add_all(users)
            session.flush()
            policy = session_policy(settings)
            return [
                create(session, user.id, policy, provider_id=None, linked_account_id=None, roles=frozenset())
                for user in users
            ]
    finally:
        rt.close()


def gunicorn(env: dict[str, str], port: int, workers: int, threads: int, workdir: Path, log: str = "gunicorn.log") -> subprocess.Popen:
    """`gunicorn hub.wsgi:app` (gthread workers) on 127.0.0.1:`port`, serving once this returns.
    Its stderr goes to `workdir/log`: a pipe nobody reads would stall a server that logs a lot.
    No control socket: every gunicorn's default is one path (~/.gunicorn/gunicorn.ctl), which a
    second server on the machine would take over and the first one's exit remove."""
    log_path = workdir / log
    with log_path.open("ab") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
             "-b", f"127.0.0.1:{port}", "--no-control-socket", "hub.wsgi:app"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=workdir,
        )
    wait_until_serving(process, f"http://127.0.0.1:{port}/readyz", log=log_path)
    return process
