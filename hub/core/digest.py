"""The SHA-256 of a browser-held secret: what the database stores instead of the secret itself."""

from __future__ import annotations

import hashlib


def digest(value: str) -> str:
    """SHA-256 hex of a browser-held secret (a session cookie, a sign-in's state or browser
    binding): a copy of the table then holds nothing a browser could present."""
    return hashlib.sha256(value.encode()).hexdigest()
