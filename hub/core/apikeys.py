"""API keys for back-end services: created once and shown once, stored hashed, revocable.

A key reads `hub_<prefix>_<secret>`. The prefix finds the row; the secret (256 random bits)
is compared by its SHA-256, which is enough for a random secret (no password stretching needed)
and keeps each API call cheap. A key may be limited to some providers' tokens (its scope) and
may expire; both are enforced on every call, so a leaked key's reach is no wider than its use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.errors import HubError, NotFound
from hub.core.models import ApiKey, utcnow

PREFIX_BYTES = 6


class ApiKeyInvalid(HubError):
    code = "api_key_invalid"
    status = 401
    title = "A valid API key is required"
    hint = "Send `Authorization: Bearer hub_...` with a key from `hub api-keys create`."


class KeyNoLongerValid(ApiKeyInvalid):
    """A key of this hub that was revoked or expired: its use is still attributed to it."""

    def __init__(self, message: str, *, code: str, key: ApiKey) -> None:
        super().__init__(message, code=code)
        self.key_id = key.id
        self.key_name = key.name


class OutOfScope(HubError):
    code = "api_key_scope"
    status = 403
    title = "This API key may not fetch tokens of this provider"
    hint = "Ask by a provider in the key's scope (`hub api-keys list` shows it), or use a key made for this provider."


@dataclass(frozen=True)
class NewApiKey:
    row: ApiKey
    plaintext: str = field(repr=False)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    session: Session, name: str, *, providers: Sequence[str] | None = None, expires_at: datetime | None = None
) -> NewApiKey:
    """Add a key; the plaintext is returned once and never stored. `providers` limits it to
    those providers' tokens (None: every provider); `expires_at` ends it (None: never)."""
    if not name.strip() or len(name) > 128:
        raise HubError("An API key needs a name of 1 to 128 characters, saying who uses it.", code="api_key_name")
    scope = None if providers is None else sorted({p.strip() for p in providers if p.strip()})
    if scope is not None and (not scope or any(len(p) > 64 for p in scope)):
        raise HubError(
            "An API key's scope names one or more provider ids (each up to 64 characters); leave it out for every provider.",
            code="api_key_scope_invalid",
        )
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise HubError(
            "An API key's expiry must be a time in the future, with its time zone.", code="api_key_expiry_invalid"
        )
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), prefix=prefix, secret_hash=_hash(secret), providers=scope, expires_at=expires_at)
    session.add(row)
    session.flush()
    return NewApiKey(row=row, plaintext=f"hub_{prefix}_{secret}")


def authenticate(session: Session, presented: str | None) -> ApiKey:
    """The live key for an `Authorization: Bearer` value; raises ApiKeyInvalid otherwise."""
    parts = (presented or "").split("_", 2)
    if len(parts) != 3 or parts[0] != "hub" or not parts[1] or not parts[2]:
        raise ApiKeyInvalid("The request carries no API key, or not one of this hub's.")
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        raise ApiKeyInvalid("This API key is not known to this hub.")
    if row.revoked_at is not None:
        raise KeyNoLongerValid("This API key has been revoked.", code="api_key_revoked", key=row)
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise KeyNoLongerValid("This API key has expired; create a new one.", code="api_key_expired", key=row)
    return row


def check_scope(key: ApiKey, provider_id: str) -> None:
    """Raise OutOfScope unless the key may fetch tokens of `provider_id`."""
    if key.providers is not None and provider_id not in key.providers:
        raise OutOfScope(f"API key {key.id} ({key.name}) may fetch tokens of {', '.join(key.providers)} only.")


def state(key: ApiKey) -> str:
    """"active", "revoked <date>" or "expired <date>", for people reading a list of keys."""
    if key.revoked_at is not None:
        return f"revoked {key.revoked_at:%Y-%m-%d}"
    if key.expires_at is not None and key.expires_at <= utcnow():
        return f"expired {key.expires_at:%Y-%m-%d}"
    return "active"


def describe_scope(key: ApiKey) -> str:
    """The scope as the console and `hub api-keys list` show it."""
    return "all providers" if key.providers is None else ", ".join(key.providers)


def revoke(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"There is no API key {key_id}; `hub api-keys list` shows them.")
    row.revoked_at = row.revoked_at or utcnow()
    return row
