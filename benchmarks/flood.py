"""What an anonymous flood costs the hub: the red team's issue 9 §3 measurements, repeatable.

    uv run python benchmarks/flood.py                       # SQLite file, in-memory limits
    HUB_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
      HUB_BENCH_REDIS_URL=redis://127.0.0.1:6379/1 uv run python benchmarks/flood.py
                                                            # PostgreSQL (WIPED) and Redis limits

Sends, from one address through the Flask test client in process, 2,000 `POST /auth/<id>/start`
with a 2 KB `next` (one browser, then 2,000 browsers), 400 forged front-channel logouts and 400
bogus callbacks, once with the default limits and once with rate limits out of the way (what the
storage caps alone achieve). Prints pending sign-in rows and their bytes, audit events written,
the answers' status codes and the wall time. Before the fix the red team measured 2,000 rows
(about 350 MB per ten minutes with a 2 KB `next`) and one audit event per forged request.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

from hub.app import create_app  # noqa: E402
from hub.core.config import load_settings  # noqa: E402
from hub.core.db import Database  # noqa: E402
from hub.core.models import AuditEvent, PendingSignin  # noqa: E402
from hub.plugin.manager import load_plugins  # noqa: E402
from tests import fakeidp  # noqa: E402
from tests.conftest import csrf_of  # noqa: E402

UNLIMITED = {f"ratelimit_{name}": "1000000 per minute" for name in ("signin", "callback", "logout", "anonymous")}


def build(tmp: Path, **settings: Any) -> Any:
    database_url = os.environ.get("HUB_BENCH_DATABASE_URL") or f"sqlite:///{tmp / f'{uuid.uuid4().hex}.sqlite3'}"
    if os.environ.get("HUB_BENCH_DATABASE_URL"):
        database = Database(database_url)
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        database.dispose()
    redis_url = os.environ.get("HUB_BENCH_REDIS_URL")
    if redis_url:
        settings = {"ratelimit_storage": redis_url, "ratelimit_key_prefix": f"hub-bench-{uuid.uuid4().hex}", **settings}
    plugins = load_plugins(discover=False)
    plugins.register(fakeidp, "fake", "fake", "0")
    config = {
        "instance_path": str(tmp),
        "database_url": database_url,
        "base_url": "http://localhost:5001",
        "providers": {"fake": {"type": "fake", "name": "Fake", "client_id": "hub", "client_secret": "s"}},
        **settings,
    }
    return create_app(settings=load_settings(environ={}, overrides=config), plugins=plugins, migrate_database=True)


def measure(app: Any, label: str, run: Any) -> None:
    db = app.extensions["hub"].db
    with db.session() as session:
        events_before = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    started = time.perf_counter()
    codes = run(app)
    elapsed = time.perf_counter() - started
    with db.session() as session:
        rows = session.scalar(select(func.count()).select_from(PendingSignin)) or 0
        size = session.scalar(select(func.coalesce(func.sum(func.length(PendingSignin.next_path)), 0))) or 0
        events = (session.scalar(select(func.count()).select_from(AuditEvent)) or 0) - events_before
    answers = ", ".join(f"{code}: {count}" for code, count in sorted(codes.items()))
    print(f"| {label} | {answers} | {rows} | {size / 1024:.0f} KB | {events} | {elapsed:.1f} s |")


def one_browser(app: Any) -> Counter[int]:
    client = app.test_client()
    token = csrf_of(client)
    return Counter(
        client.post("/auth/fake/start", data={"csrf_token": token, "next": "/" + "x" * 2047}).status_code
        for _ in range(2000)
    )


def many_browsers(app: Any) -> Counter[int]:
    codes: Counter[int] = Counter()
    for _ in range(2000):
        client = app.test_client()
        token = csrf_of(client)  # a new browser costs one GET
        codes[client.post("/auth/fake/start", data={"csrf_token": token, "next": "/" + "x" * 2047}).status_code] += 1
    return codes


def forged(app: Any) -> Counter[int]:
    client = app.test_client()
    codes: Counter[int] = Counter()
    for n in range(400):
        codes[client.get(f"/auth/fake/frontchannel-logout?sid=forged-{n}").status_code] += 1
        codes[client.get(f"/auth/fake/callback?code=c&state=bogus-{n}").status_code] += 1
    return codes


def main() -> None:
    print("| flood | answers | pending rows | next bytes | audit events | time |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for limits, extra in (("default limits", {}), ("no rate limits", UNLIMITED)):
            for label, run in (("2,000 starts, one browser", one_browser), ("2,000 starts, 2,000 browsers", many_browsers),
                               ("400 forged front-channel + 400 bogus callbacks", forged)):
                app = build(Path(tmp), **extra)
                measure(app, f"{label} ({limits})", run)
                app.extensions["hub"].close()


if __name__ == "__main__":
    main()
