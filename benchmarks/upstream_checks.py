"""Upstream checks benchmark (issue 19): refresh grants per core-second with the upstream check
not due and due on every grant, upstream calls per check under concurrency (single flight across
gunicorn workers), and the time from disabling a person at the provider to the first refused refresh.

    uv run python benchmarks/upstream_checks.py          # PostgreSQL database hub_bench_checks (WIPED)
    uv run python benchmarks/upstream_checks.py --refreshes 300 --due 100 --interval 5
    uv run python benchmarks/upstream_checks.py --nodes 2 --workers 1 --json   # as the PostgreSQL pass runs it, small

The hub runs under gunicorn (`--workers` processes) on PostgreSQL with an `entra` provider pointed
at the Entra emulator (in this process, not counted). A person signs in through the emulator, so
the hub holds their upstream tokens; the application is registered with `hub apps create --json`.

1. **Not due.** The account's last check is moved into the future (the load generator writes it
   in the database): every refresh grant pays only the one indexed read that finds nothing due.
2. **Due on every grant.** Before each grant the account's last confirmation is moved an hour back,
   so every grant refreshes the upstream token at the emulator (one round trip, counted).
3. **Single flight.** 100 refresh grants at once for the same person (100 families) with the
   check due, spread over `--nodes` hubs (separate gunicorn trees on one database, alternating
   grant by grant; and over `--workers` processes within each): the emulator counts the
   upstream refreshes.
4. **Time to cut off.** With `--interval` seconds (HUB_UPSTREAM_CHECK_SECONDS), the person is
   disabled at the emulator right after a check; the application refreshes every 0.25 s until
   the hub answers invalid_grant; the elapsed time is printed (bounded by the interval plus one
   refresh period).

Server CPU is read from /proc (utime + stime of the gunicorn tree), as in benchmarks/issuer.py.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from issuer import REDIRECT_URI, Client, summary
from measure import cpu_split, free_port, fresh_database, gunicorn, hub_command, hub_env, wipe_schema
from sqlalchemy import create_engine, text

DEFAULT_DATABASE = "hub_bench_checks"
PERSON = "bob@contoso.example"


def toml_of(settings: dict) -> str:
    lines = ["[providers.entra]", 'type = "entra"', 'name = "Microsoft"']
    for key, value in settings.items():
        if isinstance(value, dict):
            lines.append(f"{key} = {{ " + ", ".join(f'"{k}" = "{v}"' for k, v in value.items()) + " }")
        elif isinstance(value, list):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def sign_in(base_url: str) -> str:
    """Sign the person in through the emulator; the hub session's cookie value."""
    browser = requests.Session()
    login = browser.get(f"{base_url}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    done = browser.post(f"{base_url}/auth/entra/start", data={"csrf_token": token}, timeout=30)
    if not done.url.endswith("/account"):
        raise RuntimeError(f"sign-in failed: {done.status_code} {done.url}")
    return browser.cookies["hub_session"]


class Clock:
    """Moves the account's last check (the load generator's own connection; not server CPU)."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)

    def set(self, sql_moment: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(
                f"UPDATE linked_accounts SET upstream_checked_at = {sql_moment}, "
                f"last_sign_in_at = LEAST(last_sign_in_at, {sql_moment}), linked_at = LEAST(linked_at, {sql_moment})"
            ))

    def not_due(self) -> None:
        self.set("now() + interval '1 day'")

    def due(self) -> None:
        self.set("now() - interval '1 hour'")


def chains(client: Client, count: int, concurrency: int, server_pid: int, before_each=None) -> dict[str, float]:
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(lambda _: client.code("openid offline_access"), range(concurrency)))
        tokens = [token["refresh_token"] for _, token in pool.map(client.redeem, codes)]
    latencies: list[float] = []
    per_chain = -(-count // concurrency)

    def chain(token: str) -> None:
        for _ in range(per_chain):
            if before_each is not None:
                before_each()
            elapsed, token = client.refresh(token)
            latencies.append(elapsed)

    before, started = cpu_split(server_pid), time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(chain, tokens))
    wall = time.perf_counter() - started
    after = cpu_split(server_pid)
    return summary(latencies, wall, after[0] - before[0], after[1] - before[1])


def single_flight(client: Client, clock: Clock, emulator, nodes: list[str], width: int = 100) -> dict:
    """`width` grants at once, the i-th sent to nodes[i % len(nodes)]."""
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: client.code("openid offline_access"), range(width)))
        tokens = [token["refresh_token"] for _, token in pool.map(client.redeem, codes)]
    clock.due()
    calls = emulator.requests["token"]

    def grant(numbered: tuple[int, str]) -> tuple[str, int]:
        node = nodes[numbered[0] % len(nodes)]
        answer = requests.post(
            f"{node}/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": numbered[1]},
            auth=client.auth, timeout=60,
        )
        return node, answer.status_code

    started = time.monotonic()
    with ThreadPoolExecutor(width) as pool:
        answers = list(pool.map(grant, enumerate(tokens)))
    elapsed = time.monotonic() - started
    ok_per_node = {node: sum(1 for n, status in answers if n == node and status == 200) for node in nodes}
    return {
        "grants": width, "ok": sum(ok_per_node.values()), "ok_per_node": list(ok_per_node.values()),
        "upstream_calls": emulator.requests["token"] - calls, "seconds": round(elapsed, 2),
    }


def time_to_cut_off(client: Client, clock: Clock, emulator, limit: float) -> float:
    _, token = client.redeem(client.code("openid offline_access"))
    refresh_token = token["refresh_token"]
    clock.due()
    _, refresh_token = client.refresh(refresh_token)  # checked now: the interval starts here
    emulator.set_disabled(PERSON)
    started = time.monotonic()
    while time.monotonic() - started < limit:
        answer = client.http().post(
            f"{client.base_url}/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=client.auth, timeout=30,
        )
        if answer.status_code == 400 and answer.json().get("error") == "invalid_grant":
            return time.monotonic() - started
        refresh_token = answer.json()["refresh_token"]
        time.sleep(0.25)
    raise RuntimeError("the person was not cut off within the limit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help=f"a PostgreSQL URL (WIPED); default: a fresh {DEFAULT_DATABASE}")
    parser.add_argument("--refreshes", type=int, default=600, help="refresh grants with the check not due")
    parser.add_argument("--due", type=int, default=200, help="refresh grants with the check due on each")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--interval", type=int, default=5, help="HUB_UPSTREAM_CHECK_SECONDS for the cut-off phase")
    parser.add_argument("--nodes", type=int, default=1, help="hubs (gunicorn trees) on one database for the single flight")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line, last")
    args = parser.parse_args()

    from hub_entra.emulator import EntraEmulator

    database_url = fresh_database(args.database_url, DEFAULT_DATABASE)
    with EntraEmulator() as emulator, tempfile.TemporaryDirectory() as scratch:
        emulator.auto_sign_in = PERSON
        workdir = Path(scratch)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        emulator.add_redirect_uri(f"{base_url}/auth/entra/callback")
        (workdir / "hub.toml").write_text(toml_of(emulator.provider_settings()))
        env = {**hub_env(database_url, workdir, base_url), "HUB_UPSTREAM_CHECK_SECONDS": str(args.interval),
               "HUB_RATELIMIT_SIGNIN": "100000 per minute", "HUB_RATELIMIT_CALLBACK": "100000 per minute"}
        wipe_schema(env)
        hub_command(env, "db", "upgrade")
        registered = json.loads(
            hub_command(env, "apps", "create", "Benchmark", "--first-party", "--redirect-uri", REDIRECT_URI, "--json")
        )
        process = gunicorn(env, port, args.workers, args.threads, workdir)
        others = [(other, gunicorn(env, other, args.workers, args.threads, workdir, log=f"gunicorn-{other}.log"))
                  for other in (free_port() for _ in range(args.nodes - 1))]
        nodes = [base_url] + [f"http://127.0.0.1:{other}" for other, _ in others]
        clock = Clock(database_url)
        try:
            client = Client(base_url, registered["client_id"], registered["client_secret"], sign_in(base_url))
            client.redeem(client.code("openid"))  # warm-up
            clock.not_due()
            calls = emulator.requests["token"]
            not_due = chains(client, args.refreshes, args.concurrency, process.pid)
            not_due["upstream_calls"] = emulator.requests["token"] - calls
            calls = emulator.requests["token"]
            due = chains(client, args.due, 1, process.pid, before_each=clock.due)
            due["upstream_calls"] = emulator.requests["token"] - calls
            flight = single_flight(client, clock, emulator, nodes)
            cut_off = time_to_cut_off(client, clock, emulator, limit=args.interval * 4 + 10)
        finally:
            for server in [process] + [server for _, server in others]:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=20)
            clock.engine.dispose()

    print(f"gunicorn {args.workers} worker(s) x {args.threads} threads; PostgreSQL; emulator in this process\n")
    print(f"{'refresh grants':<26} {'grants':>6} {'upstream':>8} {'CPU ms/grant':>12} {'per core-s':>10} {'median ms':>9} {'p95 ms':>7}")
    for name, result in (("check not due", not_due), ("check due on every grant", due)):
        print(
            f"{name:<26} {result['grants']:>6} {result['upstream_calls']:>8} {result['cpu_ms_per_grant']:>12.2f} "
            f"{result['per_core_second']:>10.1f} {result['median_ms']:>9.1f} {result['p95_ms']:>7.1f}"
        )
    print(f"\nsingle flight: {flight['grants']} concurrent grants for one person across {args.nodes} hub(s), check due -> "
          f"{flight['upstream_calls']} upstream call(s), {flight['ok']} answered 200 ({' + '.join(map(str, flight['ok_per_node']))} by hub)")
    print(f"time to cut off with upstream_check_seconds={args.interval}: {cut_off:.2f} s from disabling to the first refused refresh")
    if args.json:
        figures = {"not_due": not_due, "due": due, "single_flight": flight, "cut_off_seconds": cut_off, "nodes": args.nodes}
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
