"""API keys for back-end services: created once and shown once, stored hashed, revocable.

A key reads `hub_<prefix>_<secret>`. The prefix finds the row; the secret (256 random bits)
is compared by its SHA-256, which is enough for a random secret (no password stretching needed)
and keeps each API call cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.errors import HubError
from hub.models import ApiKey, utcnow

PREFIX_BYTES = 6


class ApiKeyInvalid(HubError):
    code = "api_key_invalid"
    status = 401
    title = "A valid API key is required"
    hint = "Send `Authorization: Bearer hub_...` with a key from `hub api-keys create`."


@dataclass(frozen=True)
class NewApiKey:
    row: ApiKey
    plaintext: str = field(repr=False)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(session: Session, name: str) -> NewApiKey:
    """Add a key; the plaintext is returned once and never stored."""
    if not name.strip() or len(name) > 128:
        raise HubError("An API key needs a name of 1 to 128 characters, saying who uses it.", code="api_key_name")
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), prefix=prefix, secret_hash=_hash(secret))
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
        raise ApiKeyInvalid("This API key has been revoked.", code="api_key_revoked")
    return row


def revoke(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise HubError(f"There is no API key {key_id}; `hub api-keys list` shows them.", code="not_found", status=404)
    row.revoked_at = row.revoked_at or utcnow()
    return row
