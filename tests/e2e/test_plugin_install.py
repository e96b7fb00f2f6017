"""A new provider is one installed package: the minimal provider of docs/plugins.md, built as a
throwaway distribution and installed next to the hub's wheel in a fresh venv, signs people in
with no change to hub code; uninstalled, the hub still starts and keeps its accounts. Also: the
plugin documentation names every hook."""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from hub.plugin import hookspecs
from hub.provider import ProviderType
from tests.e2e.conftest import run

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"
CLIENT_SECRET = "tiny-client-secret-for-the-install-test"

PYPROJECT = """
[project]
name = "hub-provider-tiny"
version = "0.1.0"
dependencies = ["identity-hub"]

[project.entry-points.identity_hub]
tiny = "hub_tiny"

[build-system]
requires = ["hatchling>=1.26"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["hub_tiny"]
"""


# --- the documentation ------------------------------------------------------------------------


def hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("hub_")]


def test_docs_describe_every_hook_with_its_docstring_summary() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in hook_names():
        assert f"`{name}(" in text, f"docs/plugins.md does not document {name}"
        summary = inspect.getdoc(getattr(hookspecs, name)).splitlines()[0]
        assert summary in text, f"docs/plugins.md is out of date for {name}: copy its docstring"


def test_docs_describe_every_provider_type_member() -> None:
    text = DOCS.read_text(encoding="utf-8")
    members = [name for name in vars(ProviderType) if not name.startswith("_") and name not in {"button_label", "redirect_uri", "default_button_label"}]
    for name in members:
        assert f"`{name}" in text, f"docs/plugins.md does not describe ProviderType.{name}"


def minimal_provider() -> str:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("<!-- minimal-provider:start -->")[1].split("<!-- minimal-provider:end -->")[0]
    return block.strip().removeprefix("```python").removesuffix("```").strip() + "\n"


def test_the_minimal_provider_is_about_fifty_lines_and_compiles() -> None:
    source = minimal_provider()
    assert len(source.splitlines()) <= 70
    compile(source, "hub_tiny/__init__.py", "exec")


# --- a tiny identity provider on 127.0.0.1 ------------------------------------------------------


class TinyIdP(BaseHTTPRequestHandler):
    """Auto-approves every authorization request for one person; PKCE and Basic auth enforced."""

    codes: dict[str, tuple[str, str]] = {}
    tokens: set[str] = set()

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict | None = None, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        payload = json.dumps(body or {}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/authorize":
            code = secrets.token_urlsafe(16)
            self.codes[code] = (query["code_challenge"], query["redirect_uri"])
            self._send(302, location=f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}")
        elif parts.path == "/me" and self.headers.get("Authorization", "").removeprefix("Bearer ") in self.tokens:
            self._send(200, {"id": "tiny-user-1", "name": "Tiny Person", "email": "tiny@example.test"})
        else:
            self._send(401, {"error": "invalid_token"})

    def do_POST(self) -> None:
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        expected = "Basic " + base64.b64encode(f"hub:{CLIENT_SECRET}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._send(401, {"error": "invalid_client"})
        challenge, redirect_uri = self.codes.pop(form.get("code", ""), ("", ""))
        verifier_hash = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        if not challenge or verifier_hash != challenge or form.get("redirect_uri") != redirect_uri:
            return self._send(400, {"error": "invalid_grant"})
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "refresh_token": secrets.token_urlsafe(24)})


@contextmanager
def tiny_idp() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TinyIdP)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# --- install, sign in, uninstall ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def press(browser: requests.Session, base_url: str, provider_id: str) -> requests.Response:
    html = browser.get(f"{base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    return browser.post(f"{base_url}/auth/{provider_id}/start", data={"csrf_token": token}, timeout=20)


@pytest.mark.slow
def test_install_sign_in_uninstall_with_no_hub_change(tmp_path: Path, uv: str) -> None:
    dist = tmp_path / "dist"
    run(uv, "build", "--wheel", "--out-dir", str(dist), cwd=ROOT)
    (wheel,) = dist.glob("identity_hub-*.whl")
    plugin = tmp_path / "hub-provider-tiny"
    (plugin / "hub_tiny").mkdir(parents=True)
    (plugin / "pyproject.toml").write_text(PYPROJECT)
    (plugin / "hub_tiny" / "__init__.py").write_text(minimal_provider())

    venv = tmp_path / "venv"
    run(uv, "venv", "--python", sys.executable, str(venv))
    python, hub = venv / "bin" / "python", venv / "bin" / "hub"
    run(uv, "pip", "install", "--python", str(python), str(wheel), str(plugin))

    instance, cwd = tmp_path / "instance", tmp_path / "cwd"
    instance.mkdir()
    cwd.mkdir()  # away from the checkout: nothing may be imported from it
    env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path), "HUB_INSTANCE_PATH": str(instance),
           "HUB_DOTENV": str(tmp_path / "none.env"), "HUB_PROVIDERS__TINY__CLIENT_SECRET": CLIENT_SECRET}  # fmt: skip
    with tiny_idp() as idp_url:
        port_file = instance / "hub.toml"

        def configure(base_url: str) -> None:
            port_file.write_text(
                f'[hub]\nbase_url = "{base_url}"\ndatabase_url = "sqlite:///{instance / "hub.sqlite3"}"\n\n'
                f'[providers.tiny]\ntype = "tiny"\nname = "Tiny"\nbase_url = "{idp_url}"\nclient_id = "hub"\n'
            )

        configure("http://127.0.0.1:1")
        run(str(hub), "db", "upgrade", env=env, cwd=cwd)
        listing = run(str(hub), "providers", env=env, cwd=cwd).stdout
        assert "hub-provider-tiny" in listing and re.search(r"tiny\s+type tiny", listing)

        port = free_port()
        configure(f"http://127.0.0.1:{port}")
        with _serve_on(hub, env, cwd, port) as base_url:
            assert "Sign in with Tiny" in requests.get(f"{base_url}/login", timeout=10).text
            signed_in = press(requests.Session(), base_url, "tiny")
            assert signed_in.status_code == 200 and signed_in.url == f"{base_url}/account"
            assert "Tiny Person" in signed_in.text

    run(uv, "pip", "uninstall", "--python", str(python), "hub-provider-tiny")
    listing = run(str(hub), "providers", env=env, cwd=cwd).stdout
    assert re.search(r"tiny\s+UNAVAILABLE: .*no installed plugin provides type 'tiny'", listing)
    with _serve_on(hub, env, cwd, free_port()) as base_url:
        assert requests.get(f"{base_url}/login", timeout=10).status_code == 200
    count = run(str(python), "-c", COUNT_ACCOUNTS, str(instance / "hub.sqlite3"), env=env, cwd=cwd).stdout.split()
    assert count == ["1", "1"]  # the account and its user are kept, under a provider no longer installed


COUNT_ACCOUNTS = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM linked_accounts WHERE provider_id = 'tiny' AND subject = 'tiny-user-1'").fetchone()[0])
print(db.execute("SELECT count(*) FROM users").fetchone()[0])
"""


@contextmanager
def _serve_on(hub: Path, env: dict[str, str], cwd: Path, port: int) -> Iterator[str]:
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([str(hub), "serve", "--port", str(port)], env=env, cwd=cwd,  # noqa: S603
                                   stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if requests.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"hub serve did not start: {log_path.read_text()[-2000:]}")
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=10)
