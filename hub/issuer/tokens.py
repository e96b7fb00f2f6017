"""Authorization codes and refresh-token families, stored only as hashes.

Codes are single use and short-lived; a used code is kept until it expires so that a replay is
recognised and the tokens issued from it revoked (RFC 6749 §4.1.2). Refresh tokens are opaque,
rotated on every use, and grouped in families: presenting a rotated-out token revokes the whole
family (reuse detection, RFC 9700 §4.14). A family is bound to its hub session unless the grant
included `offline_access`.

A refresh token's successor is not random but an HMAC of it under the hub's secret key
(`Rotation.successor`). So an application that presents the same token again within a short
grace window (a retry after a timeout, two tabs, two requests racing) is answered with the very
same successor, as long as that successor is still unused: every answer hands out tokens that
work, the family stays one chain, and no plaintext token is stored. A token presented again
after the window, or after its successor was used, is reuse and revokes the family.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hub.core.models import (
    AuthorizationCode,
    ClientAssertion,
    Grant,
    RefreshToken,
    SsoSession,
    TokenFamily,
    User,
    utcnow,
)
from hub.core.purging import Purge

CODE_LIFETIME = timedelta(minutes=2)
ACCESS_TOKEN_SECONDS = 300
ID_TOKEN_SECONDS = 300
REFRESH_LIFETIME = timedelta(days=30)
"""Absolute lifetime of a family; a session-bound family also ends with its session."""
REUSE_MEMORY = timedelta(days=1)
"""How long a rotated-out refresh token is remembered so that presenting it again revokes its
family; after that (hub db purge) it is simply unknown, and still refused."""


def token_hash(value: str) -> str:
    """What the database keeps of a code or token: SHA-256 (the values are 256+ random bits)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Rotation:
    """How refresh tokens rotate: each one's successor is derived from it under the hub's secret
    key, and a spent token presented again by its application within `grace` of its spending is
    answered again with that successor while the successor is unused (Okta's grace period,
    Auth0's reuse interval). `grace` zero: any second presentation is reuse."""

    secret_key: bytes = field(repr=False)
    grace: timedelta = timedelta(0)

    def successor(self, refresh_token: str) -> str:
        """The token that replaces `refresh_token` (256 bits, like a random one)."""
        mac = hmac.new(self.secret_key, b"hub-refresh-successor\n" + refresh_token.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class CodeClaim:
    """A presented code: the row when it may be redeemed, else why not. With the row come, read
    in the same statement, its user, whether its hub session is alive and the user's grant to
    the application (id and last use)."""

    code: AuthorizationCode | None
    problem: str | None = None
    revoked_families: int = 0
    user_id: int | None = None
    user: User | None = None
    session_alive: bool = False
    grant_id: int | None = None
    grant_last_used_at: datetime | None = None


def save_code(session: Session, code: str, **columns: object) -> AuthorizationCode:
    now = utcnow()
    row = AuthorizationCode(code_hash=token_hash(code), created_at=now, expires_at=now + CODE_LIFETIME, **columns)
    session.add(row)
    session.flush()
    return row


_CODE_LOOKUP = (
    select(AuthorizationCode, User, SsoSession.sid, Grant.id, Grant.last_used_at)
    .join(User, User.id == AuthorizationCode.user_id)
    .outerjoin(SsoSession, SsoSession.sid == AuthorizationCode.sid)
    .outerjoin(
        Grant, (Grant.user_id == AuthorizationCode.user_id) & (Grant.application_id == AuthorizationCode.application_id)
    )
    .where(AuthorizationCode.code_hash == bindparam("code_hash"))
)


def peek_code(session: Session, code: str | None, application_id: int) -> CodeClaim:
    """The unused, unexpired code of this application. A used one is a replay: the tokens
    issued from it are revoked at once (RFC 6749 §4.1.2)."""
    if not code or len(code) > 256:
        return CodeClaim(None, "code_unknown")
    found = session.execute(_CODE_LOOKUP, {"code_hash": token_hash(code)}).first()
    row = found.AuthorizationCode if found is not None else None
    if row is None or row.application_id != application_id:
        return CodeClaim(None, "code_unknown")
    if row.used_at is not None:
        revoked = revoke_families(session, TokenFamily.code_hash == row.code_hash, reason="code_replayed")
        return CodeClaim(None, "code_replayed", revoked, row.user_id)
    if row.expires_at <= utcnow():
        return CodeClaim(None, "code_expired", 0, row.user_id)
    return CodeClaim(row, None, 0, row.user_id, found.User, found.sid is not None, found.id, found.last_used_at)


def redeem_code(session: Session, row: AuthorizationCode) -> bool:
    """Mark the code used; False when a concurrent request redeemed it first."""
    now = utcnow()
    claimed = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == row.code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:
        return False
    row.used_at = now
    return True


def nonce_used(session: Session, application_id: int, nonce: str) -> bool:
    """Whether an unexpired code of this application already carries this nonce (replay)."""
    return (
        session.scalar(
            select(AuthorizationCode.code_hash)
            .where(
                AuthorizationCode.application_id == application_id,
                AuthorizationCode.nonce == nonce,
                AuthorizationCode.expires_at > utcnow(),
            )
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class IssuedRefresh:
    family: TokenFamily
    refresh_token: str = field(repr=False)


def start_family(
    session: Session,
    *,
    application_id: int,
    user_id: int,
    grant_id: int | None,
    sid: str | None,
    origin_sid: str | None,
    code_hash: str | None,
    scope: str,
    auth_time: datetime,
    provider_id: str | None,
    amr: list[str] | None = None,
    acr: str | None = None,
) -> TokenFamily:
    """A new family (first token of an authorization code). `sid` None means offline;
    `origin_sid` is the hub session's sid all the same (the family's ID tokens name it)."""
    now = utcnow()
    family = TokenFamily(
        public_id=secrets.token_urlsafe(16),
        application_id=application_id,
        user_id=user_id,
        grant_id=grant_id,
        sid=sid,
        origin_sid=origin_sid,
        code_hash=code_hash,
        scope=scope,
        auth_time=auth_time,
        provider_id=provider_id,
        amr=list(amr or []),
        acr=acr,
        created_at=now,
        last_used_at=now,
        expires_at=now + REFRESH_LIFETIME,
    )
    session.add(family)
    session.flush()
    return family


# The refresh grant's statements, built once: the hot path runs them on the session's connection
# (SQLAlchemy Core, compiled-statement cache) instead of through the ORM's unit of work.
_REFRESH_TOKENS = RefreshToken.__table__
_SUCCESSORS = _REFRESH_TOKENS.alias("successor")
_FAMILIES = TokenFamily.__table__
_ADD_REFRESH = insert(_REFRESH_TOKENS).values(
    token_hash=bindparam("new_hash"), family_id=bindparam("family_id"), created_at=bindparam("now")
)
_TOUCH_FAMILY = (
    update(_FAMILIES).where(_FAMILIES.c.id == bindparam("family_id")).values(last_used_at=bindparam("now"))
)
_SPEND = (
    update(_REFRESH_TOKENS)
    .where(_REFRESH_TOKENS.c.token_hash == bindparam("spent_hash"), _REFRESH_TOKENS.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)
_SPENT = _SPEND.returning(_REFRESH_TOKENS.c.family_id).cte("spent")
_SPEND_AND_TOUCH = (
    update(_FAMILIES).where(_FAMILIES.c.id == _SPENT.c.family_id).values(last_used_at=bindparam("now"))
)
"""PostgreSQL: the spend and the family's last use in one statement (a data-modifying CTE);
it updates the family row exactly when the token was spent. SQLite has no such CTEs."""
_REPEAT_CHECK = (
    select(_REFRESH_TOKENS.c.used_at, _SUCCESSORS.c.used_at.label("successor_used_at"))
    .join(
        _SUCCESSORS,
        (_SUCCESSORS.c.token_hash == bindparam("successor_hash"))
        & (_SUCCESSORS.c.family_id == _REFRESH_TOKENS.c.family_id),
    )
    .where(_REFRESH_TOKENS.c.token_hash == bindparam("spent_hash"))
)
"""A spent token's spending time, found only when its successor is in the same family (rare path)."""
_LOOKUP = (
    select(RefreshToken, TokenFamily, User, Grant.id, Grant.last_used_at)
    .join(TokenFamily, TokenFamily.id == RefreshToken.family_id)
    .join(User, User.id == TokenFamily.user_id)
    .outerjoin(Grant, (Grant.user_id == TokenFamily.user_id) & (Grant.application_id == TokenFamily.application_id))
    .where(RefreshToken.token_hash == bindparam("lookup_hash"))
)


def add_refresh_token(session: Session, family: TokenFamily, refresh_token: str) -> None:
    """Store a family's first refresh token (its hash); the refresh grant stores successors in
    `rotate_refresh`. The family's last use was written when it started."""
    session.connection().execute(
        _ADD_REFRESH, {"new_hash": token_hash(refresh_token), "family_id": family.id, "now": utcnow()}
    )


@dataclass(frozen=True)
class RefreshClaim:
    """A presented refresh token: the token with its family, the family's user and the user's
    grant to the application (read in one statement), and the successor to hand out; else why
    not. `repeated`: the token was spent moments ago and this is a repetition within the grace
    window, answered with the same (unused) successor."""

    token: RefreshToken | None
    family: TokenFamily | None
    problem: str | None = None
    user: User | None = None
    grant_id: int | None = None
    grant_last_used_at: datetime | None = None
    successor: str | None = field(default=None, repr=False)
    repeated: bool = False


def find_refresh(session: Session, refresh_token: str | None, application_id: int, rotation: Rotation) -> RefreshClaim:
    """The live refresh token and its family. A rotated-out token revokes its family, unless
    it is a repetition within the grace window (see `Rotation`)."""
    if not refresh_token or len(refresh_token) > 256:
        return RefreshClaim(None, None, "refresh_unknown")
    found = session.execute(_LOOKUP, {"lookup_hash": token_hash(refresh_token)}).first()
    if found is None or found.TokenFamily.application_id != application_id:
        return RefreshClaim(None, None, "refresh_unknown")
    row, family = found.RefreshToken, found.TokenFamily
    if family.revoked_at is not None:
        return RefreshClaim(None, family, "family_revoked")
    if family.expires_at <= utcnow():
        return RefreshClaim(None, family, "refresh_expired")
    successor = rotation.successor(refresh_token)
    repeated = row.used_at is not None
    if repeated and not _forgiven(session, row.token_hash, successor, rotation.grace):
        revoke_family(session, family, "refresh_reused")
        return RefreshClaim(None, family, "refresh_reused")
    return RefreshClaim(row, family, None, found.User, found.id, found.last_used_at, successor, repeated)


def _forgiven(session: Session, spent_hash: str, successor: str, grace: timedelta) -> bool:
    """Whether a spent token presented again is a repetition to answer again: spent less than
    `grace` ago, and its successor issued in the same family and not used yet."""
    if grace <= timedelta(0):
        return False
    found = session.connection().execute(
        _REPEAT_CHECK, {"spent_hash": spent_hash, "successor_hash": token_hash(successor)}
    ).first()
    return (
        found is not None
        and found.used_at is not None
        and found.successor_used_at is None
        and utcnow() - found.used_at <= grace
    )


ROTATED, REPEATED, REUSED = "rotated", "repeated", "reused"
"""What `rotate_refresh` did with a presented token."""


def rotate_refresh(session: Session, claim: RefreshClaim, rotation: Rotation) -> str:
    """Spend the presented token, store its successor and mark the family used now (ROTATED).
    REPEATED: another request rotated it moments ago and the grace window forgives this one
    (known from the lookup, or found here when a concurrent request spent the token between our
    read and our write); the claim's successor is handed out again. REUSED: the family is
    revoked."""
    token, family, successor = claim.token, claim.family, claim.successor
    assert token is not None and family is not None and successor is not None  # a live claim
    if claim.repeated:
        return REPEATED
    now = utcnow()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        spent = connection.execute(_SPEND_AND_TOUCH, {"spent_hash": token.token_hash, "now": now})
    else:
        spent = connection.execute(_SPEND, {"spent_hash": token.token_hash, "now": now})
        if spent.rowcount:
            connection.execute(_TOUCH_FAMILY, {"family_id": family.id, "now": now})
    if not spent.rowcount:
        if _forgiven(session, token.token_hash, successor, rotation.grace):
            return REPEATED
        revoke_family(session, family, "refresh_reused")
        return REUSED
    connection.execute(_ADD_REFRESH, {"new_hash": token_hash(successor), "family_id": family.id, "now": now})
    set_committed_value(token, "used_at", now)
    set_committed_value(family, "last_used_at", now)
    return ROTATED


def revoke_family(session: Session, family: TokenFamily, reason: str) -> None:
    if family.revoked_at is None:
        family.revoked_at = utcnow()
        family.revoked_reason = reason


def revoke_families(session: Session, condition: object, reason: str) -> int:
    result = session.execute(
        update(TokenFamily)
        .where(condition, TokenFamily.revoked_at.is_(None))  # type: ignore[arg-type]
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def revoke_application(session: Session, application_id: int, reason: str) -> int:
    return revoke_families(session, TokenFamily.application_id == application_id, reason)


def revoke_user_application(session: Session, user_id: int, application_id: int, reason: str) -> int:
    return revoke_families(
        session,
        (TokenFamily.user_id == user_id) & (TokenFamily.application_id == application_id),
        reason,
    )


def revoke_user(session: Session, user_id: int, reason: str) -> int:
    """Every family of a user (a disabled user keeps no application signed in)."""
    return revoke_families(session, TokenFamily.user_id == user_id, reason)


def family_by_public_id(session: Session, public_id: str | None) -> TokenFamily | None:
    if not public_id or len(public_id) > 32:
        return None
    return session.scalar(select(TokenFamily).where(TokenFamily.public_id == public_id))


def family_active(family: TokenFamily | None) -> bool:
    return family is not None and family.revoked_at is None and family.expires_at > utcnow()


def remember_assertion(session: Session, jti: str, expires_at: datetime) -> bool:
    """Accept a private_key_jwt assertion's jti once; False when it was seen before."""
    digest = token_hash(jti)
    if session.get(ClientAssertion, digest) is not None:
        return False
    session.add(ClientAssertion(jti_hash=digest, expires_at=expires_at))
    session.flush()
    return True


def purge_targets(now: datetime) -> list[Purge]:
    """What `hub db purge` deletes here, in batches: expired codes and assertion jtis,
    rotated-out refresh tokens older than REUSE_MEMORY, and families past their end."""
    return [
        (AuthorizationCode, AuthorizationCode.expires_at <= now),
        (ClientAssertion, ClientAssertion.expires_at <= now),
        (RefreshToken, RefreshToken.used_at <= now - REUSE_MEMORY),
        (TokenFamily, (TokenFamily.expires_at <= now) | (TokenFamily.revoked_at <= now - REFRESH_LIFETIME)),
    ]


def purge_expired(session: Session) -> int:
    """Delete `purge_targets` in the session's transaction (small tables; tests)."""
    return sum(session.execute(delete(model).where(where)).rowcount or 0 for model, where in purge_targets(utcnow()))
