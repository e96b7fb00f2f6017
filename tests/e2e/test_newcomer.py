"""Issue 9 §7: small things a newcomer hits (unmigrated database, CSV formulas, first secrets,
`hub serve --port` and base_url)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli.commands import LazyRuntime
from hub.cli.main import build_cli
from hub.core.audit import RequestContext, export
from hub.core.config import load_settings, production_problems
from hub.core.db import write_transaction
from hub.core.keyring import KeyRing
from hub.core.models import LinkedAccount
from hub.errors import ConfigError
from hub.plugin.manager import load_plugins
from tests.conftest import sign_in
from tests.e2e.test_cli import hub

UPGRADE_FIRST = "run `hub db upgrade` first"


# --- an unmigrated database ----------------------------------------------------------------------


@pytest.mark.parametrize("args", [("keys", "rotate"), ("audit", "verify"), ("admin", "grant", "1"), ("db", "purge")])
def test_commands_on_an_unmigrated_database_say_run_db_upgrade(env, args):
    result = hub(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert UPGRADE_FIRST in result.stderr and "Traceback" not in result.stderr  # before: a traceback


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    leaves = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            leaves += _leaf_commands(command, (*prefix, name))
        else:
            leaves.append(((*prefix, name), command))
    return leaves


SCHEMA_FREE = {("db", "upgrade"), ("db", "current"), ("providers",), ("secrets", "new"), ("serve",), ("demo",)}


def test_every_command_that_needs_the_database_says_so_on_an_unmigrated_one(tmp_path):
    """In process, every leaf command of `hub` (plugins' too), with "1" for each argument."""
    settings = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path / "instance")})
    plugins = load_plugins(settings.plugins)
    group = build_cli(plugins)
    checked = []
    for path, command in _leaf_commands(group):
        if path in SCHEMA_FREE or path[0] == "plugin":
            continue
        arguments = ["1" for param in command.params if isinstance(param, click.Argument) and param.required]
        options = [
            part
            for param in command.params
            if isinstance(param, click.Option) and param.required
            for part in (param.opts[0], "1")
        ]
        result = CliRunner().invoke(group, [*path, *arguments, *options], obj=LazyRuntime(plugins, settings))
        if result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit) and result.exit_code == 2:
            continue  # click refused the dummy arguments before the command ran
        assert isinstance(result.exception, ConfigError), (path, result.output, result.exception)
        assert UPGRADE_FIRST in str(result.exception), path
        checked.append(" ".join(path))
    assert {"keys rotate", "audit verify", "admin grant", "admin list", "api-keys list"} <= set(checked)


# --- the CSV exports -------------------------------------------------------------------------------

FORMULAS = ["=1+1", " =1+1", "\u00a0=1+1", "\u3000=1", "\u200b=1", "＝1+1", "﹦1", "+1", "-1", "@SUM(A1)", "|cmd",
            "%0A", "\t=1", "\r=1", "\n=1", "\u2028=1"]
PLAIN = ["alice", "Alice Adams", "a=b", "100%", "", "x-1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_cells_are_quoted(text):
    from hub.core import csvsafe

    assert csvsafe.cell(text) == "'" + text


@pytest.mark.parametrize("text", PLAIN)
def test_plain_cells_are_left_alone(text):
    from hub.core import csvsafe

    assert csvsafe.cell(text) == text


def test_both_exports_quote_a_non_breaking_space_or_full_width_formula(app, client, idp):
    from tests import fakeidp

    idp.users["eve"] = fakeidp.FakeUser("sub-eve", "\u00a0=HYPERLINK(\"http://x\")", "eve@example.test")
    sign_in(client, idp, "eve")
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        rt.audit.record(session, "test.csv", "success", context=RequestContext(user_agent="＝cmd|' /C calc'!A0"))
    admin = app.test_client()
    sign_in(admin, idp, "alice")
    accounts = list(csv.DictReader(io.StringIO(admin.get("/admin/accounts.csv").get_data(as_text=True))))
    (eve,) = [row for row in accounts if row["subject"] == "sub-eve"]
    assert eve["display_name"].startswith("'\u00a0=") and eve["user_name"].startswith("'\u00a0=")
    audit_rows = list(csv.DictReader(io.StringIO(admin.get("/admin/audit.csv").get_data(as_text=True))))
    (event,) = [row for row in audit_rows if row["type"] == "test.csv"]
    assert event["user_agent"] == "'＝cmd|' /C calc'!A0"  # before: the audit guard let it through
    with rt.db.session() as session:
        lines = list(export(session, None, "csv"))
    assert any("'＝cmd" in line for line in lines)
    with rt.db.session() as session:
        assert session.scalar(select(LinkedAccount.display_name).where(LinkedAccount.subject == "sub-eve")).startswith("\u00a0=")


# --- first secrets ---------------------------------------------------------------------------------


def test_secrets_new_prints_all_three_and_writes_nothing(env, tmp_path):
    first, second = hub("secrets", "new", env=env), hub("secrets", "new", env=env)
    assert first.returncode == 0, first.stderr
    values = dict(line.split("=", 1) for line in first.stdout.strip().splitlines())
    assert set(values) == {"HUB_SECRET_KEY", "HUB_TOKEN_KEYS", "HUB_AUDIT_KEY"}
    assert len(KeyRing.parse(values["HUB_TOKEN_KEYS"]).key_ids) == 1
    assert len(values["HUB_SECRET_KEY"]) >= 32 and len(values["HUB_AUDIT_KEY"]) >= 32
    assert first.stdout != second.stdout
    assert not (tmp_path / "instance").exists()  # nothing written, no development file
    settings = load_settings(environ={"HUB_INSTANCE_PATH": str(tmp_path / "instance"), **values})
    from hub.core.secrets import load_keys

    assert load_keys(settings).generated == frozenset()
    assert not [p for p in production_problems(settings, {}, set()) if "secret" in p or "key" in p]


def test_keys_rotate_in_production_without_a_ring_points_to_secrets_new(env, tmp_path):
    production = {**env, "HUB_PRODUCTION": "1"}
    result = hub("keys", "rotate", env=production)
    assert result.returncode != 0 and "hub secrets new" in result.stderr
    assert "refusing to start in production: token_keys: generated development secret" in result.stderr
    assert not (tmp_path / "instance").exists()  # before: rotated into a development file it wrote


# --- hub serve --port ------------------------------------------------------------------------------


def test_served_base_url_follows_host_and_port():
    from hub.core.config import served_base_url

    assert served_base_url("127.0.0.1", 6201) == "http://localhost:6201"
    assert served_base_url("0.0.0.0", 8000) == "http://localhost:8000"  # noqa: S104
    assert served_base_url("192.0.2.7", 80) == "http://192.0.2.7:80"
    assert served_base_url("::1", 7000) == "http://localhost:7000"
    assert served_base_url("2001:db8::1", 7000) == "http://[2001:db8::1]:7000"


def _serve_banner(env: dict[str, str], tmp_path: Any, *args: str) -> str:
    process = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli.main import main; main()", "serve", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **{k: v for k, v in env.items() if k != "CWD"}},
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(50):
            line = process.stderr.readline()
            if not line or "Identity Hub on" in line:
                return line
        return ""
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


def test_serve_port_derives_base_url_unless_configured(env, tmp_path):
    import socket

    assert hub("db", "upgrade", env=env).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    banner = _serve_banner(env, tmp_path, "--port", str(port))
    assert f"base_url http://localhost:{port}," in banner  # before: http://localhost:5001
    configured = _serve_banner({**env, "HUB_BASE_URL": "http://hub.localhost:9999"}, tmp_path, "--port", str(port))
    assert "base_url http://hub.localhost:9999," in configured
    refused = hub("serve", "--production", "--port", "0", env=env)
    assert refused.returncode == 2 and "base_url: not configured; set HUB_BASE_URL" in refused.stderr
