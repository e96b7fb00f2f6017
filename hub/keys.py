"""The hub's own secrets: the secret key, the token key ring and the audit key.

In development each is generated once into the instance folder (never random per start, so
sessions and encrypted tokens survive a restart); in production each must be given through
the environment, and `hub serve --production` refuses generated ones.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from hub.config import Settings
from hub.errors import ConfigError

DEV_SECRETS_FILE = "dev-secrets.json"


@dataclass(frozen=True)
class HubKeys:
    secret_key: bytes = field(repr=False)
    token_keys: str = field(repr=False)
    """Key ring text: `kid:base64key` entries separated by commas, newest last (hub.vault)."""
    audit_key: bytes = field(repr=False)
    generated: frozenset[str] = frozenset()
    """Names of the secrets that came from the development file rather than the settings."""


def new_token_key() -> str:
    """A fresh key-ring entry: a short key id and a 256-bit key."""
    return f"{secrets.token_hex(4)}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


SECRET_VARIABLES = {"secret_key": "HUB_SECRET_KEY", "token_keys": "HUB_TOKEN_KEYS", "audit_key": "HUB_AUDIT_KEY"}


def new_secrets() -> dict[str, str]:
    """Fresh values for the three secrets: 64 random characters each for the secret and audit
    keys, and a one-key ring (`kid:base64url`) for the token keys. `hub secrets new` prints
    them for a first production deployment; development generates the same into its file."""
    return {
        "secret_key": secrets.token_urlsafe(48),
        "token_keys": new_token_key(),
        "audit_key": secrets.token_urlsafe(48),
    }


def load_keys(settings: Settings) -> HubKeys:
    """Take each secret from the settings, else from (or into) the instance's dev file."""
    given = {
        "secret_key": settings.secret_key,
        "token_keys": settings.token_keys,
        "audit_key": settings.audit_key,
    }
    missing = {name for name, value in given.items() if not value}
    dev = _dev_secrets(settings.instance_path) if missing else {}
    values = {name: given[name] or dev[name] for name in given}
    if len(values["secret_key"]) < 32:
        raise ConfigError("secret_key: expected at least 32 characters of random text")
    if len(values["audit_key"]) < 32:
        raise ConfigError("audit_key: expected at least 32 characters of random text")
    return HubKeys(
        secret_key=values["secret_key"].encode(),
        token_keys=values["token_keys"],
        audit_key=values["audit_key"].encode(),
        generated=frozenset(missing),
    )


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    path = instance_path / DEV_SECRETS_FILE
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if {"secret_key", "token_keys", "audit_key"} <= stored.keys():
            return stored
    instance_path.mkdir(parents=True, exist_ok=True)
    stored = new_secrets()
    # Created with 0600 from the start so the secrets are never readable by others.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process generated them first: use theirs
        return json.loads(path.read_text(encoding="utf-8"))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(stored, handle, indent=2)
    return stored


def save_dev_token_keys(instance_path: Path, token_keys: str) -> None:
    """Persist a rotated key ring into the dev file (`hub keys rotate` in development)."""
    path = instance_path / DEV_SECRETS_FILE
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored["token_keys"] = token_keys
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(stored, handle, indent=2)
    tmp.replace(path)
