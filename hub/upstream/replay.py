"""Back-channel logout tokens already acted on, remembered in the database until they expire.

OpenID Connect Back-Channel Logout 1.0 (section 2.6) lets the receiver refuse a token whose
`jti` it has seen. A per-process cache misses a replay sent to another worker, so the seen
`jti`s live in the `seen_logout_tokens` table, keyed by (provider, hash of the jti): the insert
of a replay fails on the primary key in whichever process it lands, inside the transaction that
would have ended the sessions, so a replay ends nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.core.models import SeenLogoutToken, utcnow
from hub.core.purging import Purge

DEFAULT_RETENTION = timedelta(hours=1)
"""How long a jti is kept when the token carried no `exp` (the validator normally requires it)."""


def remember(session: Session, provider_id: str, jti: str, expires_at: datetime | None) -> bool:
    """Record this token's jti in the caller's transaction; False when it was seen before.

    Expired rows are deleted first (indexed), so the table holds only tokens still valid. A
    concurrent duplicate blocks on the key until the first transaction ends and then finds it.
    """
    now = utcnow()
    purge_expired(session, now)
    jti_hash = hashlib.sha256(jti.encode()).hexdigest()
    if session.get(SeenLogoutToken, (provider_id, jti_hash)) is not None:
        return False
    keep_until = max(expires_at or now + DEFAULT_RETENTION, now + timedelta(seconds=1))
    session.add(SeenLogoutToken(provider_id=provider_id, jti_hash=jti_hash, expires_at=keep_until, seen_at=now))
    session.flush()  # raises IntegrityError when another transaction inserted it meanwhile
    return True


def purge_target(now: datetime) -> Purge:
    """Remembered jtis whose tokens have expired (`hub db purge` deletes them in batches)."""
    return (SeenLogoutToken, SeenLogoutToken.expires_at <= now)


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete remembered jtis whose tokens have expired; returns how many."""
    model, where = purge_target(now or utcnow())
    return session.execute(delete(model).where(where)).rowcount or 0


def is_remembered(session: Session, provider_id: str, jti: str) -> bool:
    jti_hash = hashlib.sha256(jti.encode()).hexdigest()
    query = select(SeenLogoutToken.jti_hash).where(
        SeenLogoutToken.provider_id == provider_id, SeenLogoutToken.jti_hash == jti_hash
    )
    return session.scalar(query) is not None
