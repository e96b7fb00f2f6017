"""What one address hammering every route costs in storage: issue 17's measurement, repeatable.

    uv run python benchmarks/every_route.py          # 60 s, SQLite file, in-memory limits
    HUB_BENCH_SECONDS=20 uv run python benchmarks/every_route.py

Walks `app.url_map` (every route, every method) round after round for HUB_BENCH_SECONDS from one
address through the Flask test client in process, with made-up credentials that change with
every request (bearer token, client id, grant type, id_token_hint, session cookie, a 512-byte
user agent), under the default limits. Prints the requests sent, their answers, and the rows
every table gained, audit events apart, scaled to one minute. Exempt routes (static files and
health probes) are left out: they write nothing, which tests/web/test_every_route_bounded.py
checks.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from hub.app import create_app  # noqa: E402
from hub.core.config import load_settings  # noqa: E402
from hub.core.models import Base  # noqa: E402
from hub.plugin.manager import load_plugins  # noqa: E402
from tests import fakeidp  # noqa: E402

SKIPPED = {"static", "health.healthz", "health.readyz"}
ADDRESS = "203.0.113.7"
USER_AGENT = "flood/" + "x" * 505


def build(tmp: Path) -> Any:
    plugins = load_plugins(discover=False)
    plugins.register(fakeidp, "fake", "fake", "0")
    config = {
        "instance_path": str(tmp),
        "database_url": f"sqlite:///{tmp / 'hub.sqlite3'}",
        "base_url": "http://localhost:5001",
        "providers": {"fake": {"type": "fake", "name": "Fake", "client_id": "hub", "client_secret": "s"}},
    }
    return create_app(settings=load_settings(environ={}, overrides=config), plugins=plugins, migrate_database=True)


def table_rows(app: Any) -> Counter[str]:
    with app.extensions["hub"].db.session() as session:
        return Counter({t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables})


def routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED:
            continue
        path = rule.build({name: "fake" if "provider" in name else "1" for name in rule.arguments}, append_unknown=False)[1]
        found.extend((method, path) for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
    return found


def send(client: Any, method: str, path: str, n: int) -> int:
    data = {
        "client_id": f"made-up-{n}", "client_secret": "wrong", "grant_type": f"made_up_{n}",
        "token": f"made-up-{n}", "id_token_hint": f"eyJhbGciOiJub25lIn0.e30.{n}", "csrf_token": f"forged-{n}",
        "logout_token": f"made-up-{n}", "code": f"code-{n}", "state": f"state-{n}", "provider": f"made-up-{n}",
    }
    headers = {"Authorization": f"Bearer made-up-{n}", "User-Agent": USER_AGENT}
    client.set_cookie("hub_session", f"made-up-{n}")
    environ = {"REMOTE_ADDR": ADDRESS}
    if method in {"GET", "DELETE"}:
        response = client.open(path, method=method, query_string=data, headers=headers, environ_base=environ)
    else:
        response = client.open(path, method=method, data=data, headers=headers, environ_base=environ)
    response.close()
    return response.status_code


def main() -> None:
    seconds = float(os.environ.get("HUB_BENCH_SECONDS", "60"))
    with tempfile.TemporaryDirectory() as tmp:
        app = build(Path(tmp))
        client = app.test_client()
        walk = routes(app)
        before = table_rows(app)
        codes: Counter[int] = Counter()
        started, n = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            for method, path in walk:
                codes[send(client, method, path, n)] += 1
                n += 1
        elapsed = time.monotonic() - started
        grown = table_rows(app) - before
        app.extensions["hub"].close()
    per_minute = 60 / elapsed
    audit = grown.pop("audit_events", 0)
    other = sum(grown.values())
    print(f"{len(walk)} route-methods, {n} requests in {elapsed:.0f} s from {ADDRESS}")
    print("answers:", ", ".join(f"{code}: {count}" for code, count in sorted(codes.items())))
    print(f"audit rows: {audit} ({audit * per_minute:.0f} per minute)")
    print(f"other rows: {other} ({other * per_minute:.0f} per minute) {dict(grown)}")


if __name__ == "__main__":
    main()
