"""The `hub` command line, run as a person would: help, db, providers, admin, serve --production."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.core.secrets import new_secrets

ROOT = Path(__file__).resolve().parents[2]


def hub(*args: str, env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from hub.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
        cwd=env.get("CWD", str(ROOT)),
        timeout=timeout,
    )


def test_help_lists_the_commands(env):
    result = hub("--help", env=env)
    assert result.returncode == 0, result.stderr
    for command in ("serve", "db", "providers", "admin", "audit", "keys"):
        assert f"  {command}" in result.stdout


def test_db_upgrade_then_current(env):
    before = hub("db", "current", env=env)
    assert before.returncode == 1
    assert "run `hub db upgrade`" in before.stdout
    upgraded = hub("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    current = hub("db", "current", env=env)
    assert current.returncode == 0
    assert "status: current" in current.stdout


def test_providers_lists_plugins_and_configured_providers(env, tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text('[providers.gh]\ntype = "nosuchtype"\n')
    result = hub("providers", env={**env, "HUB_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert "Installed plugins:" in result.stdout
    assert "gh" in result.stdout and "UNAVAILABLE" in result.stdout


def test_bad_configuration_stops_with_one_line(env):
    result = hub("providers", env={**env, "HUB_SESSION_IDLE_MINUTES": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: HUB_SESSION_IDLE_MINUTES: expected a whole number, got 'soon'"


def test_serve_production_refuses_dev_secrets_and_sqlite(env):
    result = hub("serve", "--production", "--port", "0", env=env)
    assert result.returncode == 2
    assert "refusing to start in production: secret_key: generated development secret" in result.stderr
    assert "database_url: SQLite is for development" in result.stderr


def test_the_wsgi_entry_refuses_production_with_development_settings_and_writes_nothing(tmp_path: Path):
    """`gunicorn hub.wsgi:app` with HUB_PRODUCTION=true, as the docs offer it: before, it served
    with generated secrets, SQLite and in-memory rate limits."""
    instance = tmp_path / "instance"
    result = subprocess.run(
        [sys.executable, "-c", "import hub.wsgi"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "HUB_INSTANCE_PATH": str(instance),
            "HUB_DOTENV": str(tmp_path / "none.env"),
            "HUB_PRODUCTION": "true",
            "HUB_BASE_URL": "https://hub.example.test",
        },
    )
    assert result.returncode != 0
    assert "ProductionRefused" in result.stderr
    for problem in ("secret_key: generated development secret", "database_url: SQLite", "ratelimit_storage: memory://"):
        assert f"refusing to start in production: {problem}" in result.stderr
    assert not instance.exists()  # before: instance/dev-secrets.json and hub.sqlite3


def test_admin_grant_by_id_and_never_by_email(env, tmp_path):
    assert hub("db", "upgrade", env=env).returncode == 0
    from hub.core.config import load_settings
    from hub.core.db import Database
    from hub.core.models import User

    settings = load_settings(environ={"HUB_INSTANCE_PATH": env["HUB_INSTANCE_PATH"]})
    database = Database(settings.database_url)
    with database.session() as session, session.begin():
        session.add(User(display_name="Carol", email="carol@example.test"))
    by_email = hub("admin", "grant", "carol@example.test", env=env)
    assert by_email.returncode == 2 and "never selects a person" in by_email.stderr
    granted = hub("admin", "grant", "1", env=env)
    assert granted.returncode == 0, granted.stderr
    assert "is now an administrator" in granted.stdout
    assert "carol@example.test (unverified)" in hub("admin", "list", env=env).stdout
    missing = hub("admin", "grant", "7", env=env)
    assert missing.returncode == 2 and "There is no user 7" in missing.stderr
    with database.session() as session:
        assert session.query(User).one().is_admin is True
    database.dispose()


def test_db_purge(env):
    assert hub("db", "upgrade", env=env).returncode == 0
    result = hub("db", "purge", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "deleted 0 expired sessions, 0 expired pending sign-ins, "
        "0 expired codes and token families, 0 expired logout token ids "
        "and 0 back-channel logouts finished over a week ago"
    )


@pytest.mark.postgresql
def test_serve_production_runs_gunicorn_workers_on_postgresql(env, tmp_path):
    """Every worker answers /readyz against PostgreSQL with proper secrets and https."""
    import socket
    import time

    import requests

    database_url = os.environ.get("HUB_TEST_DATABASE_URL")
    redis_url = os.environ.get("HUB_TEST_REDIS_URL")
    if not database_url or not redis_url:
        pytest.skip("runs in the PostgreSQL pass (HUB_TEST_DATABASE_URL) with Redis (HUB_TEST_REDIS_URL)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    production = {
        **env,
        "HUB_DATABASE_URL": database_url,
        "HUB_BASE_URL": "https://hub.example.test",
        **{f"HUB_{name.upper()}": value for name, value in new_secrets().items()},
        "HUB_RATELIMIT_STORAGE": redis_url,
        "HUB_RATELIMIT_KEY_PREFIX": f"hub-test-cli-{port}",  # /readyz declares no rule: no keys
    }
    assert hub("db", "upgrade", env=production).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli.main import main; main()", "serve", "--production", "--port", str(port), "--workers", "2"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **{k: v for k, v in production.items() if k != "CWD"}},
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answers = []
        deadline = time.monotonic() + 30
        while len(answers) < 20 and time.monotonic() < deadline:
            try:
                answers.append(requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5))
            except requests.ConnectionError:
                time.sleep(0.2)
        assert len(answers) == 20 and all(a.status_code == 200 for a in answers)
        assert answers[0].headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stderr.close()


def test_demo_prints_the_address_the_example_applications_and_the_people_with_their_roles(env, tmp_path):
    """... and connects the emulator's provisioning service to the hub's SCIM endpoint: the people
    page's "Deprovision (SCIM)" reaches the hub with the token the demo made, never printed."""
    import requests

    log_path = tmp_path / "demo-stderr.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-c", "from hub.cli.main import main; main()", "demo",
                "--port", "0", "--emulator-port", "0", "--example-port", "0", "--second-example-port", "0",
            ],
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HUB_INSTANCE_PATH": env["HUB_INSTANCE_PATH"]},
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    import threading

    lines: list[str] = []
    last_person = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if "mallory@fabrikam.example" in line:
                last_person.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    pressed = None
    try:
        if last_person.wait(timeout=60):  # a missing line fails below instead of hanging here
            emulator_url = re.search(r"Entra ID emulator at (http://127\.0\.0\.1:\d+)", "".join(lines)).group(1)
            pressed = requests.post(
                f"{emulator_url}/_emulator/scim-user", data={"email": "bob@contoso.example", "push": "deprovision"}, timeout=30
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)
        process.stdout.close()
    text = "".join(lines)
    assert "Identity Hub demo: open http://127.0.0.1:" in text
    assert "Alice Adams" in text and "alice@contoso.example" in text and "admin (app role Hub.Admin)" in text
    assert "Bob Brown" in text and "Carol Chen" in text
    assert re.search(r"Example app A at http://127\.0\.0\.1:\d+/", text)
    assert re.search(r"Example app B at http://127\.0\.0\.1:\d+/ .*single sign-on", text)
    assert '"Deprovision (SCIM)"' in text
    assert pressed is not None and pressed.status_code == 200
    assert "deprovision: HTTP 201" in pressed.text and "Provision (SCIM)</button>" in pressed.text  # the hub took the push
    logged = log_path.read_text()
    assert "POST /scim/v2/entra/Users 201" in logged
    assert not re.search(r"scim_[0-9a-f]+_", text + logged)  # the token: on the console nor in the logs


def test_serve_answers_on_the_given_host_and_port(env, tmp_path):
    import socket
    import time

    import requests

    assert hub("db", "upgrade", env=env).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli.main import main; main()", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HUB_INSTANCE_PATH": env["HUB_INSTANCE_PATH"], "HUB_DOTENV": env["HUB_DOTENV"]},
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, answer = time.monotonic() + 30, None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert answer is not None and answer.json() == {"status": "ready"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def imported_modules(path: Path) -> set[str]:
    import ast

    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_commands_reach_the_runtime_one_way_and_none_imports_the_cli():
    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("hub/**/*.py"), *root.glob("providers/*/hub_*/**/*.py")]
    assert len(sources) > 40
    importers = [str(p.relative_to(root)) for p in sources if p.parts[-2:] != ("cli", "__init__.py") and p.name != "main.py" and "hub.cli.main" in imported_modules(p)]
    assert importers == []
    using_context = [str(p.relative_to(root)) for p in root.glob("hub/cli/commands/*.py") if "find_object" in p.read_text() or "runtime_of" in p.read_text()]
    assert using_context == []


def test_api_keys_are_created_with_a_scope_and_an_expiry_and_listed_with_them(env):
    assert hub("db", "upgrade", env=env).returncode == 0
    created = hub("api-keys", "create", "billing", "--provider", "fake", "--provider", "entra", "--expires-in-days", "30", env=env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("hub_")
    plain = hub("api-keys", "create", "reports", env=env)
    assert plain.returncode == 0, plain.stderr
    listed = hub("api-keys", "list", env=env).stdout.splitlines()
    assert "entra, fake" in listed[0] and "\texpires " in listed[0] and "active" in listed[0]
    assert "all providers" in listed[1] and "no expiry" in listed[1]
    assert hub("api-keys", "create", "x", "--expires-in-days", "0", env=env).returncode == 2
    assert hub("apikeys", "list", env=env).stdout.splitlines() == listed  # the hidden alias
