"""SCIM bearer tokens: one provider's directory pushes with each; shown once, stored hashed, revocable.

A token reads `scim_<prefix>_<secret>`: the prefix finds the row, the secret (256 random bits)
is compared by its SHA-256 (a random secret needs no stretching, and each SCIM call stays cheap).
A token admits its own provider's SCIM endpoint only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.orm import Session

from hub.core.errors import HubError, NotFound
from hub.core.models import ScimToken, utcnow

PREFIX_BYTES = 6
PREFIX = "scim"
LAST_USE_GRANULARITY = timedelta(minutes=1)
_TOKENS = ScimToken.__table__
_LOOKUP = select(
    _TOKENS.c.id, _TOKENS.c.provider_id, _TOKENS.c.name, _TOKENS.c.secret_hash, _TOKENS.c.revoked_at, _TOKENS.c.last_used_at
)
"""Every SCIM request's token lookup: SQLAlchemy Core, built once (no ORM object to load)."""


class ScimTokenInvalid(HubError):
    code = "scim_token_invalid"
    status = 401
    title = "A valid SCIM token is required"
    hint = "Send `Authorization: Bearer scim_...` with a token from `hub scim token PROVIDER_ID`."


@dataclass(frozen=True)
class NewScimToken:
    row: ScimToken
    plaintext: str = field(repr=False)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(session: Session, provider_id: str, name: str) -> NewScimToken:
    """Add a token for `provider_id`'s SCIM endpoint; the plaintext is returned once, never stored."""
    if not name.strip() or len(name) > 128:
        raise HubError("A SCIM token needs a name of 1 to 128 characters, saying who uses it.", code="scim_token_name")
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    row = ScimToken(provider_id=provider_id, name=name.strip(), prefix=prefix, secret_hash=_hash(secret))
    session.add(row)
    session.flush()
    return NewScimToken(row=row, plaintext=f"{PREFIX}_{prefix}_{secret}")


def prefix_of(presented: str | None) -> str | None:
    """The token's prefix (not secret: it names the row), for a per-token rate limit."""
    parts = (presented or "").split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX and parts[1] else None


def authenticate(connection: Connection | Session, provider_id: str, presented: str | None) -> Row[Any]:
    """The live token of `provider_id` for an `Authorization: Bearer` value (its id, provider_id,
    name, revoked_at and last_used_at); raises ScimTokenInvalid otherwise."""
    parts = (presented or "").split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise ScimTokenInvalid("The request carries no SCIM token, or not one of this hub's.")
    row = connection.execute(_LOOKUP.where(_TOKENS.c.prefix == parts[1][:32])).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        raise ScimTokenInvalid("This SCIM token is not known to this hub.")
    if row.revoked_at is not None:
        raise ScimTokenInvalid("This SCIM token has been revoked.", code="scim_token_revoked")
    if row.provider_id != provider_id:
        raise ScimTokenInvalid("This SCIM token belongs to another provider's endpoint.", code="scim_token_provider")
    return row


def use_worth_noting(token: Row[Any] | ScimToken) -> bool:
    """Whether to write this use: the console shows last use to the minute, so a directory's
    burst of pushes costs one write a minute, not one per request."""
    return token.last_used_at is None or utcnow() - token.last_used_at >= LAST_USE_GRANULARITY


def note_use(session: Session, token_id: int) -> None:
    session.execute(update(ScimToken).where(ScimToken.id == token_id).values(last_used_at=utcnow()))


def revoke(session: Session, token_id: int) -> ScimToken:
    row = session.get(ScimToken, token_id)
    if row is None:
        raise NotFound(f"There is no SCIM token {token_id}.", hint="`hub scim list` shows them.")
    row.revoked_at = row.revoked_at or utcnow()
    return row
