"""The hub's own secrets: the secret key, the token key ring and the audit key.

In development each is generated once into the instance folder (never random per start, so
sessions and encrypted tokens survive a restart); in production each must be given through
the environment, and a production start (hub.core.production) refuses absent, weak or reused ones
(`secret_problems`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.core.config import Settings
from hub.core.errors import ConfigError

DEV_SECRETS_FILE = "dev-secrets.json"
SECRET_MIN_CHARACTERS = 32
SECRET_MIN_BITS = 80
"""The least a secret's estimated entropy may be (its length times the Shannon entropy of its
characters; bytes for token keys). A random 32-character hex string (128 bits) estimates about
112 bits (never under 87 in 200,000 tries), `hub secrets new`'s values over 300, 32 times one
character 0."""
MAKE_SECRETS = "make good ones with `hub secrets new`"


@dataclass(frozen=True)
class HubKeys:
    secret_key: bytes = field(repr=False)
    token_keys: str = field(repr=False)
    """Key ring text: `kid:base64key` entries separated by commas, newest last (hub.core.keyring)."""
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


def estimated_bits(symbols: Sequence[object]) -> float:
    """A generous estimate of a secret's entropy: length times the Shannon entropy of its
    symbols. It cannot prove a secret random, but it catches the ones that are obviously not:
    one repeated character, a short alphabet, a repeated word."""
    if not symbols:
        return 0.0
    total = len(symbols)
    per_symbol = -sum(n / total * math.log2(n / total) for n in Counter(symbols).values())
    return per_symbol * total


def _is_repetition(text: Sequence[object]) -> bool:
    """Whether the value is one shorter piece repeated (`abcdabcd...`, `passwordpassword`)."""
    doubled = [*text, *text]
    return len(text) > 1 and any(doubled[shift : shift + len(text)] == list(text) for shift in range(1, len(text)))


def _weakness(value: Sequence[object], unit: str) -> str | None:
    if len(value) < SECRET_MIN_CHARACTERS:
        return f"expected at least {SECRET_MIN_CHARACTERS} {unit}, got {len(value)}"
    if _is_repetition(value):
        return "it is one piece repeated"
    bits = estimated_bits(value)
    if bits < SECRET_MIN_BITS:
        return f"too little variety to be random (about {bits:.0f} bits, expected {SECRET_MIN_BITS} or more)"
    return None


def secret_problems(given: Mapping[str, str | None]) -> list[str]:
    """Why the secrets given (setting name -> value) are unfit for production: short, low in
    entropy, or one value used for two roles (a leaked audit key would then also forge
    sessions). Absent ones are hub.core.config.production_problems' to report. Empty when they are
    fine. Each problem names the setting, never its value."""
    problems: list[str] = []
    seen: dict[bytes, str] = {}

    def check_reuse(material: bytes, role: str) -> None:
        if material in seen and seen[material] != role:
            problems.append(
                f"{role}: the same value as {seen[material]}; every secret must be its own ({MAKE_SECRETS})"
            )
        seen.setdefault(material, role)

    for name, variable in SECRET_VARIABLES.items():
        value = given.get(name)
        if not value:
            continue
        if name == "token_keys":
            for kid, key, text in _ring_entries(value):
                role = f"token_keys (key {kid!r})"
                weakness = _weakness(list(key), "bytes") if key is not None else "not 32 bytes of base64url"
                if weakness:
                    problems.append(f"{role}: {weakness}; {MAKE_SECRETS} or `hub keys rotate`")
                check_reuse(text.encode(), role)
                if key is not None:
                    check_reuse(key, role)
            continue
        weakness = _weakness(value, "characters")
        if weakness:
            problems.append(f"{name}: {weakness}; set {variable} to a random value ({MAKE_SECRETS})")
        check_reuse(value.encode(), name)
    return problems


def _ring_entries(ring_text: str) -> list[tuple[str, bytes | None, str]]:
    """(key id, key bytes or None when undecodable, key text) of each ring entry; the vault
    reports a malformed ring itself, this only judges the keys."""
    entries = []
    for number, entry in enumerate((part.strip() for part in ring_text.split(",") if part.strip()), 1):
        kid, separator, text = entry.partition(":")
        if not separator:  # a bare key, no "kid:": never name it by its own text
            kid, text = f"entry {number}", entry
        try:
            key: bytes | None = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        except (binascii.Error, ValueError):
            key = None
        entries.append((kid.strip()[:64], key, text.strip()))
    return entries


def load_keys(settings: Settings) -> HubKeys:
    """Take each secret from the settings, else from (or into) the instance's dev file."""
    given = {
        "secret_key": settings.secret_key,
        "token_keys": settings.token_keys,
        "audit_key": settings.audit_key,
    }
    missing = {name for name, value in given.items() if not value}
    if missing and settings.production:  # hub.core.production refuses this first; never write the file
        raise ConfigError(f"{sorted(missing)[0]}: production takes its secrets from the environment ({MAKE_SECRETS})")
    dev = _dev_secrets(settings.instance_path) if missing else {}
    values = {name: given[name] or dev[name] for name in given}
    for name in ("secret_key", "audit_key"):
        if len(values[name]) < SECRET_MIN_CHARACTERS:
            raise ConfigError(f"{name}: expected at least {SECRET_MIN_CHARACTERS} characters of random text ({MAKE_SECRETS})")
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
