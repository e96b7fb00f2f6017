"""The floor under a sign-in: server CPU per request of the cheapest requests there are, under
the same `gunicorn -w 2` (sync workers) and the same load driver as benchmarks/signin.py.

    uv run python benchmarks/floor.py
    uv run python benchmarks/floor.py --requests 1000

Three servers, each asked `--requests` times at concurrency 4 by a fresh requests.Session per
request (as a new browser would): a bare Flask app answering "ok" (what gunicorn, werkzeug and
Flask cost before any application code), the hub's `/healthz` (no database, no session) and
its `/login` page (a template, a CSRF token, the security headers, the browser cookie). A
complete sign-in is four hub requests plus two calls to the provider, so four times the /login
figure is what a sign-in costs before it has redeemed a code, checked a signature or written a
row. It also times the client side: the CPU one GET through a kept-alive requests.Session
costs its caller, the floor of each call the hub makes to a provider. CPU is utime + stime of the gunicorn master and workers from /proc; loopback only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from measure import cpu_split, free_port, wait_until_serving

sys.path.insert(0, str(Path(__file__).resolve().parent))

from signin import gunicorn_hub  # noqa: E402

BARE_APP = '''
from flask import Flask
app = Flask(__name__)

@app.get("/")
def ok():
    return "ok"
'''


def bare_flask(workdir: Path) -> tuple[subprocess.Popen, str]:
    (workdir / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "bare_app:app"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(workdir)},
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_until_serving(process, base_url)
    return process, base_url


def cpu_per_request(pid: int, url: str, count: int) -> tuple[float, float]:
    """(CPU ms, of it kernel ms) per request, after a warm-up."""

    def ask(_: int) -> None:
        with requests.Session() as browser:
            response = browser.get(url, timeout=10)
            response.raise_for_status()

    for _ in range(50):
        ask(0)
    user, system = cpu_split(pid)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(ask, range(count)))
    user_after, system_after = cpu_split(pid)
    total = (user_after - user) + (system_after - system)
    return total * 1000 / count, (system_after - system) * 1000 / count


def client_cpu_per_call(url: str, count: int) -> float:
    """CPU ms this process spends per GET through one kept-alive requests.Session: what each
    call to a provider costs the hub's worker, whatever the provider does."""
    with requests.Session() as session:
        for _ in range(50):
            session.get(url, timeout=10)
        started = time.process_time()
        for _ in range(count):
            session.get(url, timeout=10).raise_for_status()
        return (time.process_time() - started) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per server (bounded, loopback)")
    args = parser.parse_args()
    from hub_entra.emulator import EntraEmulator

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        process, base_url = bare_flask(Path(workdir))
        try:
            rows.append(("bare Flask app, GET /", *cpu_per_request(process.pid, base_url + "/", args.requests)))
            client = client_cpu_per_call(base_url + "/", args.requests)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    with EntraEmulator() as emulator, tempfile.TemporaryDirectory() as workdir:
        process, base_url = gunicorn_hub(f"sqlite:///{workdir}/hub.core.db", emulator, Path(workdir), 2)
        try:
            for path in ("/healthz", "/login"):
                rows.append((f"hub, GET {path}", *cpu_per_request(process.pid, base_url + path, args.requests)))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(f"gunicorn -w 2 (sync), {args.requests} requests each at concurrency 4, a new connection per request")
    print(f"{'server, request':<28} {'CPU ms/request':>15} {'of it kernel':>13}")
    for name, cpu, kernel in rows:
        print(f"{name:<28} {cpu:>15.2f} {kernel:>13.2f}")
    print(f"\nclient side: {client:.2f} ms CPU per GET through a kept-alive requests.Session (a provider call's floor)")


if __name__ == "__main__":
    main()
