"""Two hub nodes on one PostgreSQL database (issue 16): a burst of first authorizations fired at
both nodes at once, and refresh tokens presented several times at once across both; counts what
must never happen (a 5xx, an error=server_error redirect, a failed redemption, a refresh-token
family lost) beside the latencies.

    uv run python benchmarks/two_nodes.py                  # PostgreSQL database hub_bench_two_nodes (WIPED)
    uv run python benchmarks/two_nodes.py --redis redis://127.0.0.1:6379/11 --json
    uv run python benchmarks/two_nodes.py --people 50 --apps 4 --refreshes 100 --concurrency 4

Set-up: migrates a fresh database, registers `--apps` confidential applications with
`hub apps create --json` (the default client authentication, so `client_secret_basic` and
`client_secret_post` are both accepted; every other application `--first-party`, so half the
first authorizations go through the consent page's Allow and half are implicit), creates
`--people` people each with a hub session directly in the database, and starts TWO
`gunicorn hub.wsgi:app` process trees on two ports of 127.0.0.1 over the same database and the
same instance folder (one set of secrets, one issuer URL: as two nodes behind a load balancer).
The rate limits count in Redis shared by both nodes with `--redis`, else in each node's memory;
either way the token and anonymous allowances are raised to 100,000 a minute for the run (the
limiter still runs on every request). Then, over HTTP on 127.0.0.1:

1. **Burst of first authorizations.** For every (person, application) pair, `--concurrency`
   pairs in flight at once, the person's browser (their session cookie) sends the authorization
   request (PKCE S256) to BOTH nodes at the same moment (a barrier per pair): the GET itself for
   a first-party application, the consent page's Allow for the others (each node's page fetched
   first). Each code, read from the Location header, is redeemed at a random node's token
   endpoint, half with `client_secret_post` and half with `client_secret_basic`.
   `--people` x `--apps` x 2 sign-ins in all.
2. **Concurrent refresh retries.** `--refreshes` of the refresh tokens just issued are each
   presented 2, 3 or 4 times at once, alternately at the two nodes: every answer must be 200 with
   the same successor (the grace window, `refresh_reuse_grace_seconds`). That successor must
   then refresh (the chain works). A family failing either is **lost**. After the window has
   passed, the token that refresh rotated out is presented again while its successor is still
   unused: it must be refused with invalid_grant, and so must the successor afterwards (reuse
   detection still revokes the family). The token the retries presented is not the one to
   try there: its successor is used, so it is refused within the window too and would show
   nothing about the window.

Every request opens its own connection (`Connection: close`): a kept-alive connection that the
server closes as idle just as the client reuses it would show up as a dropped connection that
no browser would notice (they retry). Prints a table (answers by status, 0 for a connection
dropped or timed out; p50/p95 latency per step) and the findings; `--json` prints them as JSON
too. Exits 1 when it found a 5xx, a server_error, a failed sign-in or
redemption, a lost family or an undetected reuse (each with the answer's status and body, and
the nodes' log tails). Bounded: each phase stops starting new work after TIME_LIMIT seconds;
the nodes are stopped however it ends.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.cookiejar
import json
import os
import random
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from measure import (
    free_port,
    fresh_database,
    gunicorn,
    hub_command,
    hub_env,
    percentile,
    signed_in_people,
    wipe_schema,
)

DEFAULT_DATABASE = "hub_bench_two_nodes"
TIME_LIMIT = 120.0
REDIRECT_URI = "http://127.0.0.1:9/callback"
"""Never contacted: the authorization response is read from the Location header."""
SCOPE = "openid profile email offline_access"
EXAMPLES_KEPT = 20
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

STEPS = (
    ("consent_page", "consent page (GET, each node)"),
    ("authorize", "first authorization, both nodes at once"),
    ("redeem", "code redemption, random node"),
    ("refresh_retry", "refresh, same token 2-4x at once"),
    ("refresh_next", "refresh with the successor"),
    ("reuse", "rotated-out token after the window"),
)


@dataclass(frozen=True)
class Application:
    client_id: str
    client_secret: str
    first_party: bool


@dataclass(frozen=True)
class Person:
    session: str
    browser: str

    def cookies(self) -> dict[str, str]:
        return {"hub_session": self.session, "hub_browser": self.browser}


@dataclass
class Tally:
    """What every request answered, shared by the load threads."""

    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    findings: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, step: str, status: int, elapsed: float) -> None:
        with self.lock:
            self.statuses[step][status] += 1
            self.latencies[step].append(elapsed)
            if status >= 500:
                self.findings["5xx"] += 1

    def found(self, kind: str, example: str) -> None:
        with self.lock:
            self.findings[kind] += 1
            if len(self.examples) < EXAMPLES_KEPT:
                self.examples.append(f"{kind}: {example}")


class Nodes:
    """The two nodes as a browser and an application see them: a new connection per request
    (`Connection: close`), so a dropped connection is the server's doing and never the race of
    a kept-alive connection the server closed as idle; no cookie jar (each request carries its
    person's own cookies)."""

    def __init__(self, urls: list[str], tally: Tally) -> None:
        self.urls = urls
        self.tally = tally
        self._local = threading.local()

    def http(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            self._local.session = session
        return self._local.session

    def send(self, step: str, node: int, method: str, path: str, **kwargs: object) -> requests.Response:
        """The answer; a connection dropped or timed out counts as status 0 (an empty answer)."""
        started = time.perf_counter()
        try:
            answer = self.http().request(method, self.urls[node] + path, allow_redirects=False, timeout=60,
                                         headers={"Connection": "close"}, **kwargs)
        except requests.RequestException as error:
            answer = requests.Response()
            answer.status_code, answer._content = 0, b""
            self.tally.found("connection dropped", f"{step} at node {'AB'[node]}: {error}")
        self.tally.answered(step, answer.status_code, time.perf_counter() - started)
        if answer.status_code >= 500:
            self.tally.found("5xx", f"{step} at node {'AB'[node]}: {answer.status_code} {answer.text[:300]}")
        return answer

    def token(self, step: str, node: int, app: Application, data: dict[str, str], post: bool) -> requests.Response:
        """A token request with client_secret_post (`post`) or client_secret_basic."""
        if post:
            return self.send(step, node, "POST", "/oauth2/token",
                             data={**data, "client_id": app.client_id, "client_secret": app.client_secret})
        return self.send(step, node, "POST", "/oauth2/token", data=data, auth=(app.client_id, app.client_secret))


# --- 1. the burst of first authorizations -------------------------------------------------------


def authorize(nodes: Nodes, node: int, person: Person, app: Application, barrier: threading.Barrier) -> tuple[str, str] | None:
    """One side of a pair: this node's authorization response, sent when the other side sends
    its own; (code, verifier), or None (counted)."""
    tally = nodes.tally
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    params = {
        "response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT_URI, "scope": SCOPE,
        "state": state, "nonce": secrets.token_urlsafe(12), "code_challenge": challenge, "code_challenge_method": "S256",
    }
    csrf = None
    if not app.first_party:
        page = nodes.send("consent_page", node, "GET", f"/oauth2/authorize?{urlencode(params)}", cookies=person.cookies())
        found = CSRF_FIELD.search(page.text) if page.status_code == 200 else None
        if found is None:
            tally.found("no consent page", f"node {'AB'[node]}: {page.status_code} {page.text[:300]}")
        else:
            csrf = found.group(1)
    with contextlib.suppress(threading.BrokenBarrierError):  # the other side failed early: this one still goes
        barrier.wait()
    if app.first_party:
        answer = nodes.send("authorize", node, "GET", f"/oauth2/authorize?{urlencode(params)}", cookies=person.cookies())
    elif csrf is not None:
        answer = nodes.send("authorize", node, "POST", "/oauth2/authorize", cookies=person.cookies(),
                            data={**params, "csrf_token": csrf, "decision": "allow"})
    else:
        return None
    location = answer.headers.get("Location", "")
    query = parse_qs(urlsplit(location).query)
    if answer.status_code in (302, 303) and "code" in query and query.get("state") == [state]:
        return query["code"][0], verifier
    error = query.get("error", [""])[0]
    kind = "server_error redirect" if error == "server_error" else "no code"
    tally.found(kind, f"node {'AB'[node]}: {answer.status_code} {location[:300] or answer.text[:300]}")
    return None


def redeem(nodes: Nodes, app: Application, code_and_verifier: tuple[str, str], post: bool) -> str | None:
    """Redeem at a random node; the refresh token, or None (counted)."""
    code, verifier = code_and_verifier
    node = random.randrange(2)
    answer = nodes.token("redeem", node, app, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier,
    }, post)
    body = answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else {}
    if answer.status_code != 200 or "refresh_token" not in body:
        nodes.tally.found("failed redemption", f"node {'AB'[node]}: {answer.status_code} {answer.text[:300]}")
        return None
    return body["refresh_token"]


def burst(nodes: Nodes, people: list[Person], apps: list[Application], concurrency: int) -> list[tuple[Application, str]]:
    """Every (person, application) pair's first authorization at both nodes at once; the
    refresh tokens the redeemed codes gave."""
    pairs = [(person, app) for person in people for app in apps]
    random.shuffle(pairs)  # several people and applications in flight at once, not one person's four
    deadline = time.monotonic() + TIME_LIMIT
    families: list[tuple[Application, str]] = []
    lock = threading.Lock()

    with ThreadPoolExecutor(2 * concurrency) as sides:

        def pair(number: int) -> None:
            if time.monotonic() > deadline:
                nodes.tally.found("not run (TIME_LIMIT)", "a pair")
                return
            person, app = pairs[number]
            barrier = threading.Barrier(2, timeout=60)
            codes = list(sides.map(lambda node: authorize(nodes, node, person, app, barrier), (0, 1)))
            for side, code in enumerate(codes):
                if code is None:
                    continue
                token = redeem(nodes, app, code, post=(number + side) % 2 == 0)
                if token is not None:
                    with lock:
                        families.append((app, token))

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(pair, range(len(pairs))))
    return families


# --- 2. concurrent refresh retries ----------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """A family that survived the retries: the successor they all got (since spent by the next
    refresh) and its own successor (unused)."""

    number: int
    app: Application
    rotated_out: str
    newest: str
    spent_at: float


def retried(nodes: Nodes, number: int, app: Application, token: str, pool: ThreadPoolExecutor) -> Chain | None:
    """Present `token` 2-4 times at once across the nodes, then refresh with the successor they
    all answered; None when the family is lost (counted)."""
    copies = 2 + number % 3
    barrier = threading.Barrier(copies, timeout=60)

    def present(copy: int) -> requests.Response:
        barrier.wait()
        return nodes.token("refresh_retry", copy % 2, app, {"grant_type": "refresh_token", "refresh_token": token},
                           post=(number + copy) % 2 == 0)

    answers = list(pool.map(present, range(copies)))
    statuses = [answer.status_code for answer in answers]
    if statuses != [200] * copies:
        refused = next(answer for answer in answers if answer.status_code != 200)
        nodes.tally.found("family lost", f"{copies} copies answered {statuses}: {refused.text[:300]}")
        return None
    successors = {answer.json().get("refresh_token") for answer in answers}
    if len(successors) != 1 or None in successors:
        nodes.tally.found("family lost", f"{copies} copies answered {len(successors)} different successors")
        return None
    [successor] = successors
    node = random.randrange(2)
    answer = nodes.token("refresh_next", node, app, {"grant_type": "refresh_token", "refresh_token": successor},
                         post=number % 2 == 1)
    spent_at = time.monotonic()
    if answer.status_code != 200 or "refresh_token" not in answer.json():
        nodes.tally.found("family lost", f"the successor refused at node {'AB'[node]}: {answer.status_code} {answer.text[:300]}")
        return None
    return Chain(number, app, successor, answer.json()["refresh_token"], spent_at)


def refused_as_reuse(nodes: Nodes, chain: Chain) -> None:
    """After the window: the rotated-out token is reuse (invalid_grant) though its successor is
    unused, and its family is revoked, so the newest token is refused too."""
    for token in (chain.rotated_out, chain.newest):
        node = random.randrange(2)
        answer = nodes.token("reuse", node, chain.app, {"grant_type": "refresh_token", "refresh_token": token},
                             post=chain.number % 2 == 0)
        is_json = answer.headers.get("Content-Type", "").startswith("application/json")
        if answer.status_code != 400 or not is_json or answer.json().get("error") != "invalid_grant":
            nodes.tally.found("reuse not refused", f"node {'AB'[node]}: {answer.status_code} {answer.text[:300]}")
            return


def refresh_retries(nodes: Nodes, families: list[tuple[Application, str]], count: int, concurrency: int, grace: int) -> int:
    """`count` families through the retries, the chain and (after the window) the reuse check;
    how many were tried."""
    chosen = families[:count]
    deadline = time.monotonic() + TIME_LIMIT
    chains: list[Chain] = []
    lock = threading.Lock()

    with ThreadPoolExecutor(4 * concurrency) as copies:

        def family(number: int) -> None:
            if time.monotonic() > deadline:
                nodes.tally.found("not run (TIME_LIMIT)", "a family")
                return
            app, token = chosen[number]
            chain = retried(nodes, number, app, token, copies)
            if chain is not None:
                with lock:
                    chains.append(chain)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(family, range(len(chosen))))

    if chains:  # the window runs from the hub's spending, a moment before our clock read it
        time.sleep(max(0.0, max(chain.spent_at for chain in chains) + grace + 1.0 - time.monotonic()))
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda chain: refused_as_reuse(nodes, chain), chains))
    return len(chosen)


# --- the run ----------------------------------------------------------------------------------------


def grants_in_database(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM grants")).scalar_one()
    engine.dispose()
    return count


def audit_chain(env: dict[str, str]) -> str:
    """`hub audit verify` after both nodes appended to one chain."""
    try:
        said = hub_command(env, "audit", "verify").strip()
    except RuntimeError as error:
        return f"BROKEN: {error}"
    return said.splitlines()[-1] if said else "verified"


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help=f"a PostgreSQL URL (WIPED); default: a fresh {DEFAULT_DATABASE}")
    parser.add_argument("--people", type=int, default=50, help="people, each signed in once")
    parser.add_argument("--apps", type=int, default=4, help="applications (every other one first-party)")
    parser.add_argument("--refreshes", type=int, default=100, help="refresh-token families retried at once")
    parser.add_argument("--concurrency", type=int, default=4, help="pairs (or families) in flight at once")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per node")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    parser.add_argument("--grace", type=int, default=10, help="refresh_reuse_grace_seconds (the hub's default: 10)")
    parser.add_argument("--redis", metavar="URL", help="rate limits in this Redis, shared by both nodes (else in memory)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()

    database_url = fresh_database(args.database_url, DEFAULT_DATABASE)
    tally = Tally()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        ports = [free_port(), free_port()]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        env = hub_env(database_url, workdir, urls[0])  # one issuer for both, as behind a load balancer
        env["HUB_REFRESH_REUSE_GRACE_SECONDS"] = str(args.grace)
        if args.redis:
            env["HUB_RATELIMIT_STORAGE"] = args.redis
            env["HUB_RATELIMIT_KEY_PREFIX"] = f"bench-two-nodes-{secrets.token_hex(4)}"  # no counts from an earlier run
        (workdir / "hub.toml").write_text("# no providers: the benchmark's people are signed in directly\n")
        wipe_schema(env)
        hub_command(env, "db", "upgrade")
        apps = []
        for number in range(args.apps):
            first_party = number % 2 == 1
            registered = json.loads(hub_command(
                env, "apps", "create", f"Benchmark {number + 1}", "--redirect-uri", REDIRECT_URI, "--json",
                *(["--first-party"] if first_party else []),
            ))
            apps.append(Application(registered["client_id"], registered["client_secret"], first_party))
        people = [Person(cookie, secrets.token_urlsafe(24)) for cookie in signed_in_people(env, args.people)]
        processes: list[subprocess.Popen] = []
        try:
            for node, port in enumerate(ports):
                processes.append(gunicorn(env, port, args.workers, args.threads, workdir, log=f"node-{'ab'[node]}.log"))
            nodes = Nodes(urls, tally)
            started = time.perf_counter()
            families = burst(nodes, people, apps, args.concurrency)
            burst_seconds = time.perf_counter() - started
            started = time.perf_counter()
            tried = refresh_retries(nodes, families, args.refreshes, args.concurrency, args.grace)
            refresh_seconds = time.perf_counter() - started
        finally:
            for process in processes:
                stop(process)
        grants = grants_in_database(database_url)
        chain = audit_chain(env)
        logs = {name: (workdir / f"node-{name}.log").read_text(errors="replace") for name in "ab"
                if (workdir / f"node-{name}.log").exists()}

    pairs = args.people * args.apps
    steps = {}
    for step, _label in STEPS:
        statuses, latencies = tally.statuses.get(step, Counter()), tally.latencies.get(step, [])
        steps[step] = {
            "requests": sum(statuses.values()),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "p50_ms": percentile(latencies, 0.5) * 1000 if latencies else 0.0,
            "p95_ms": percentile(latencies, 0.95) * 1000 if latencies else 0.0,
        }
    findings = dict(sorted(tally.findings.items()))
    result = {
        "people": args.people, "applications": args.apps, "pairs": pairs, "sign_ins": 2 * pairs,
        "codes_redeemed": len(families), "grants": grants, "families_tried": tried,
        "families_lost": tally.findings["family lost"], "server_errors": tally.findings["5xx"],
        "server_error_redirects": tally.findings["server_error redirect"],
        "burst_seconds": burst_seconds, "refresh_seconds": refresh_seconds, "audit_chain": chain,
        "steps": steps, "findings": findings,
    }
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores shared with the load generator, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at the end; PostgreSQL on 127.0.0.1; 2 nodes x gunicorn {args.workers} worker(s) x "
        f"{args.threads} threads; rate limits in {'Redis ' + args.redis if args.redis else 'memory (per node)'}; "
        f"refresh_reuse_grace_seconds {args.grace}; {args.concurrency} pairs or families in flight\n"
    )
    print(f"{'step':<42} {'requests':>8} {'statuses':<28} {'p50 ms':>8} {'p95 ms':>8}")
    for step, label in STEPS:
        row = steps[step]
        statuses = " ".join(f"{status}:{count}" for status, count in row["statuses"].items()) or "-"
        print(f"{label:<42} {row['requests']:>8} {statuses:<28} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f}")
    print(
        f"\nsign-ins: {2 * pairs} requested ({pairs} pairs x 2 nodes), {len(families)} codes redeemed, "
        f"in {burst_seconds:.1f} s\n"
        f"grants: {grants} rows for {pairs} (person, application) pairs\n"
        f"5xx: {result['server_errors']}; error=server_error redirects: {result['server_error_redirects']}; "
        f"failed redemptions: {tally.findings['failed redemption']}\n"
        f"refresh families: {tried} tried, {result['families_lost']} lost, "
        f"reuse not refused after the window: {tally.findings['reuse not refused']} (in {refresh_seconds:.1f} s)\n"
        f"audit chain: {chain}"
    )
    failed = bool(findings) or grants != pairs or chain.startswith("BROKEN")
    if failed:
        print(f"\nFOUND: {findings}")
        for example in tally.examples:
            print(f"  {example}")
        for name, text in logs.items():
            if text.strip():
                print(f"\n--- node {name.upper()} log (tail) ---\n{text[-4000:]}")
    if args.json:
        print(json.dumps(result))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
