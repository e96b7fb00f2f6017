"""SCIM benchmark: provisioning requests per core-second (create, PATCH, deprovisioning PATCH), with
the hub under gunicorn on PostgreSQL over loopback, as a directory's provisioning cycle sends them.

    uv run python benchmarks/scim.py                             # PostgreSQL database hub_bench_scim (WIPED)
    uv run python benchmarks/scim.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/mine
    uv run python benchmarks/scim.py --users 500 --concurrency 4 --workers 1

What it does: migrates a fresh database, configures one provider (GitHub type: its directory id is
its subject; no network at start), makes a token with `hub scim token dir --json` (the operators'
interface) and starts `gunicorn hub.wsgi:app`. Then, over HTTP on 127.0.0.1 with `--concurrency`
client threads:

1. **Create**: `POST /Users` with Entra's body (enterprise extension, emails, name) per user.
2. **PATCH**: Entra's attribute update (`"op": "Replace"` without path, a new displayName).
3. **Deprovision**: Entra's `{"op": "Replace", "path": "active", "value": "False"}`, which runs
   the whole disable path (sessions, application grants, audit) in the request.

Per core-second is measured as in benchmarks/issuer.py: requests / the gunicorn tree's CPU seconds
(PostgreSQL's own CPU not counted). The goal is 200 per core-second for create and PATCH.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from measure import (
    cpu_split,
    free_port,
    fresh_database,
    gunicorn,
    hub_command,
    hub_env,
    percentile,
    wipe_schema,
)

DEFAULT_DATABASE = "hub_bench_scim"
TIME_LIMIT = 120.0
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_user(number: int) -> dict:
    name = f"person{number}@contoso.com"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": str(uuid.uuid4()), "userName": name, "active": True, "displayName": f"Person {number}",
        "emails": [{"primary": True, "type": "work", "value": name}],
        "name": {"formatted": f"Person {number}", "familyName": "Person", "givenName": str(number)},
        ENTERPRISE: {"department": "Retail", "employeeNumber": str(number)},
    }


def phase(name: str, pid: int, items: list, send: Callable[[requests.Session, object], requests.Response], concurrency: int, expected: int) -> dict:
    """Send one request per item from `concurrency` threads; the server's CPU and the latencies."""
    local = threading.local()
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT

    def one(item: object) -> object:
        if time.monotonic() > deadline:
            return None
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        response = send(session, item)
        elapsed = time.perf_counter() - started
        if response.status_code != expected:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
        with lock:
            latencies.append(elapsed)
        return response.json()

    user0, system0 = cpu_split(pid)
    wall0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, items))
    wall = time.perf_counter() - wall0
    user1, system1 = cpu_split(pid)
    cpu = (user1 - user0) + (system1 - system0)
    done = len(latencies)
    return {
        "requests": done, "per_second_wall": done / wall, "server_cpu_s": cpu,
        "cpu_ms_per_request": 1000 * cpu / done, "per_core_second": done / cpu if cpu else float("inf"),
        "median_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * percentile(latencies, 0.95),
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help=f"a PostgreSQL URL (WIPED); default: a fresh {DEFAULT_DATABASE}")
    parser.add_argument("--users", type=int, default=500, help="users created, patched and deprovisioned")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()

    database_url = fresh_database(args.database_url, DEFAULT_DATABASE)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {**hub_env(database_url, workdir, base_url), "HUB_RATELIMIT_SCIM": "100000 per minute"}
        (workdir / "hub.toml").write_text(
            '[providers.dir]\ntype = "github"\nclient_id = "bench"\nclient_secret = "bench-secret"\n'
            'scim_group_roles = { "Hub Admins" = "admin" }\n'
        )
        wipe_schema(env)
        hub_command(env, "db", "upgrade")
        created = json.loads(hub_command(env, "scim", "token", "dir", "--json"))
        headers = {"Authorization": f"Bearer {created['token']}", "Content-Type": "application/scim+json"}
        url = created["url"]
        process = gunicorn(env, port, args.workers, args.threads, workdir)
        try:
            requests.get(f"{url}/ServiceProviderConfig", headers=headers, timeout=10).raise_for_status()  # warm-up
            users = phase(
                "create", process.pid, [entra_user(n) for n in range(args.users)],
                lambda s, body: s.post(f"{url}/Users", json=body, headers=headers, timeout=30), args.concurrency, 201,
            )
            ids = [r["id"] for r in users.pop("results") if r]
            patched = phase(
                "patch", process.pid, ids,
                lambda s, i: s.patch(f"{url}/Users/{i}", headers=headers, timeout=30, json={
                    "schemas": [PATCH], "Operations": [{"op": "Replace", "value": {"displayName": f"Moved {i[:8]}"}}]}),
                args.concurrency, 200,
            )
            patched.pop("results")
            deprovisioned = phase(
                "deprovision", process.pid, ids,
                lambda s, i: s.patch(f"{url}/Users/{i}", headers=headers, timeout=30, json={
                    "schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
                args.concurrency, 200,
            )
            deprovisioned.pop("results")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)

    print(
        f"machine: {os.cpu_count()} cores shared with the load generator; PostgreSQL on 127.0.0.1; "
        f"gunicorn {args.workers} worker(s) x {args.threads} threads; {args.concurrency} client threads\n"
    )
    print(f"{'request':<14} {'count':>6} {'wall /s':>8} {'server CPU s':>12} {'CPU ms/req':>10} {'per core-s':>10} {'median ms':>9} {'p95 ms':>7}")
    results = {"create": users, "patch": patched, "deprovision": deprovisioned}
    for name, result in results.items():
        print(
            f"{name:<14} {result['requests']:>6} {result['per_second_wall']:>8.1f} {result['server_cpu_s']:>12.2f} "
            f"{result['cpu_ms_per_request']:>10.2f} {result['per_core_second']:>10.1f} {result['median_ms']:>9.1f} {result['p95_ms']:>7.1f}"
        )
    for name in ("create", "patch"):
        met = "met" if results[name]["per_core_second"] >= 200 else "NOT met"
        print(f"{name} per core-second: {results[name]['per_core_second']:.0f} (goal 200): {met}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
