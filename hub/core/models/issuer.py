"""The OpenID Provider's tables: applications, grants, codes, token families, SSO, keys, logouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.models.base import Base, utcnow


class Application(Base):
    """A downstream app registered with the hub (an OAuth client of the hub's OpenID Provider).

    The client secret is kept only as a SHA-256 hash (it is 256 random bits, shown once).
    """

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    """None for public applications (native apps, SPAs), which must use PKCE."""
    secret_rotated_at: Mapped[datetime | None]
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    """`client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none` (public) when
    registered explicitly; `client_secret_basic_or_post` (either) for the default."""
    first_party: Mapped[bool] = mapped_column(default=False)
    """First-party applications skip the consent page."""
    redirect_uris: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """{"uris": [...]}: matched exactly (RFC 8252 loopback port freedom for native apps)."""
    post_logout_redirect_uris: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2048))
    grant_types: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """{"types": [...]} among authorization_code, refresh_token, client_credentials."""
    allowed_scopes: Mapped[str] = mapped_column(Text, default="")
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    pairwise_subject: Mapped[bool] = mapped_column(default=False)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The application's public keys for `private_key_jwt`, or None."""
    jwks_uri: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class SsoSession(Base):
    """The issuer side's view of a hub session: its `sid` and the applications signed in
    through it (hub.issuer.sso). The `sid` is random, not the cookie nor its hash; applications
    see only their own HMAC of it (hub.issuer.sso.application_sid). Ends with its hub session
    (cascade)."""

    __tablename__ = "sso_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id_hash: Mapped[str] = mapped_column(
        ForeignKey("sessions.id_hash", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SsoSessionApplication(Base):
    """One application holding a grant in one hub session (who to tell when it ends)."""

    __tablename__ = "sso_session_applications"

    sid: Mapped[str] = mapped_column(ForeignKey("sso_sessions.sid", ondelete="CASCADE"), primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class Grant(Base):
    """What a user allowed an application: the scopes consented to (remembered decision)."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("user_id", "application_id", name="uq_grants_user_application"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class AuthorizationCode(Base):
    """An authorization code, stored under its hash; single use, short-lived.

    A used code is kept (used_at) until it expires, so a replay can be recognised and the
    tokens issued from it revoked.
    """

    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_authorization_codes_application_nonce", "application_id", "nonce"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str | None] = mapped_column(ForeignKey("sso_sessions.sid", ondelete="SET NULL"))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    auth_time: Mapped[datetime]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(default=list)
    acr: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class TokenFamily(Base):
    """The refresh tokens issued from one authorization code, one rotation after another.

    Bound to its SSO session (ends with it) unless `offline_access` was granted. Presenting a
    rotated-out refresh token revokes the whole family (reuse detection).
    """

    __tablename__ = "token_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    """Names the family in access tokens (claim `hub_fid`) so introspection can see revocation."""
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str | None] = mapped_column(ForeignKey("sso_sessions.sid", ondelete="CASCADE"), index=True)
    """None when `offline_access` was granted; otherwise the family dies with the hub session."""
    origin_sid: Mapped[str | None] = mapped_column(String(64))
    """The sid of the hub session the family was issued in, kept after that session ends
    (offline), so a refreshed ID token names the same `sid` as the first (OIDC Core §12.2)."""
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    auth_time: Mapped[datetime]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(default=list)
    acr: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """One refresh token of a family, stored under its hash. Rotated on every use."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("token_families.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(index=True)


class ClientAssertion(Base):
    """A `private_key_jwt` assertion's jti, kept until it expires so it is accepted once."""

    __tablename__ = "client_assertions"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SigningKey(Base):
    """One of the hub's own signing keys. The private key is sealed with the token key ring
    (hub.core.keyring.KeyRing) and bound to its kid; every process reads the same keys."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    """`next` (published, not yet signing), `current` (signing), `previous` (published through
    the grace period), `retired` (neither)."""
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    ring_key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class BackchannelLogout(Base):
    """One back-channel logout token owed to one application: a delivery queue in the database.

    Queued in the transaction that ends a hub session, so it exists exactly when the session
    ended; any process's delivery thread claims due rows with a lease, POSTs the token outside
    any transaction and records the outcome. No token is stored: it is signed at each attempt
    (same `jti`, so a receiver can tell a retry from a new logout).
    """

    __tablename__ = "backchannel_logouts"
    __table_args__ = (Index("ix_backchannel_logouts_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None]
    """The person signed out (kept for the audit trail, so no foreign key)."""
    sid: Mapped[str] = mapped_column(String(64))
    """The hub session's `sid`; the token carries the application's own (application_sid)."""
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    """Why the hub session ended: logout, signout_everywhere, user_disabled, unlink, provider_logout..."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """`pending` (to be sent), `delivered` (2xx), `abandoned` (refused, or out of attempts)."""
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    leased_until: Mapped[datetime | None]
    """Set while a process is delivering it; another process may take it over afterwards."""
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
