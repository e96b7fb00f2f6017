"""A throwaway hub for a provider plugin's tests: a migrated SQLite database in a temporary
folder, the plugin registered directly (no entry point needed), and browser-like helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from hub.app import create_app
from hub.core.config import load_settings
from hub.plugin.manager import load_plugins

BASE_URL = "http://localhost:5001"


def hub_app(
    instance: Path,
    providers: Mapping[str, Mapping[str, Any]],
    plugins: Iterable[tuple[str, ModuleType]],
    *,
    base_url: str = BASE_URL,
) -> Flask:
    """A hub with these provider tables and plugin modules, its database migrated on start.
    Close it with `app.extensions["hub"].close()`."""
    manager = load_plugins(discover=False)
    for name, module in plugins:
        manager.register(module, name, name, "test")
    settings = load_settings(
        environ={},
        overrides={
            "instance_path": str(instance),
            "database_url": f"sqlite:///{instance / 'hub.sqlite3'}",
            "base_url": base_url,
            "providers": {pid: dict(table) for pid, table in providers.items()},
        },
    )
    return create_app(settings=settings, plugins=manager, migrate_database=True)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page renders for this browser."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def start_sign_in(client: FlaskClient, provider_id: str, **form: str) -> str:
    """Press the provider's button; returns the authorization URL the hub redirects to."""
    page = "/account" if form.get("intent") == "link" else "/login"
    response = client.post(f"/auth/{provider_id}/start", data={"csrf_token": csrf_token(client, page), **form})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def callback_path(provider_id: str, params: Mapping[str, str]) -> str:
    return f"/auth/{provider_id}/callback?{urlencode(dict(params))}"
