"""The hub's tables as SQLAlchemy 2.x typed models; migrations/ must always agree with them.

Secret material never sits in a plain column: token sets hold ciphertext only (hub.upstream.vault),
sessions and pending sign-ins are stored under a hash of the id the browser holds, and the
PKCE verifier and nonce are derived from the state and the secret key rather than stored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    column,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_subject() -> str:
    """A new user's public subject identifier: 122 random bits (UUID4), so it neither counts
    the hub's users nor can ever be handed out again after the user is deleted."""
    return str(uuid.uuid4())


def column_length(attribute: Any) -> int | None:
    """The declared length of a mapped string column (User.email -> 320)."""
    return getattr(attribute.property.columns[0].type, "length", None)


def clip(attribute: Any, value: str | None) -> str | None:
    """Text from outside (a provider's profile, a browser's User-Agent) cut to its column.

    The one place that does it, driven by the column lengths below: PostgreSQL refuses an
    over-long value (a 5,000-character displayName made every sign-in of that person a 500),
    SQLite silently keeps it. Only for display text: identifiers that do not fit are refused
    (hub.core.accounts), never cut, since a cut identifier could name someone else.
    """
    if value is None:
        return None
    length = column_length(attribute)
    if length is None or len(value) <= length:
        return value
    return value[: length - 1] + "…"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use hub.core.models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class User(Base):
    """The local person. Created at first sign-in; every linked account points here."""

    __tablename__ = "users"
    # A unique index, not a constraint: SQLite adds it without rebuilding the table (migration 0010).
    __table_args__ = (Index("ix_users_public_subject", "public_subject", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_subject: Mapped[str] = mapped_column(String(64), default=new_public_subject)
    """The `sub` applications know this person by (hub.issuer.claims.subject_for): random for
    users created since migration 0010, the old database id (as text) for earlier ones, whose
    `sub` applications had already seen. Never reused, never parsed."""
    display_name: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    """Granted with `hub admin grant`; an admin role from a provider also admits."""
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    linked_accounts: Mapped[list[LinkedAccount]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class LinkedAccount(Base):
    """(provider id, subject) -> user. The subject is the provider's immutable id."""

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("provider_id", "subject", name="uq_linked_accounts_provider_subject"),
        # The admin console's keyset pages, filters and searches (migration 0003).
        Index("ix_linked_accounts_linked_at", "linked_at", "id"),
        Index("ix_linked_accounts_provider_linked_at", "provider_id", "linked_at", "id"),
        Index("ix_linked_accounts_last_sign_in_at", "last_sign_in_at", "id"),
        Index("ix_linked_accounts_needs_reauth", "needs_reauth", "linked_at", "id"),
        Index("ix_linked_accounts_subject", "subject"),
        # Case-insensitive prefix search: lower(...) text_pattern_ops on PostgreSQL; on SQLite
        # the migration builds the same-named index as `column COLLATE NOCASE`, which is what
        # SQLite's LIKE optimisation needs (it cannot reflect expression indexes).
        Index(
            "ix_linked_accounts_email_search",
            func.lower(column("email")),
        ),
        Index(
            "ix_linked_accounts_display_name_search",
            func.lower(column("display_name")),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    issuer: Mapped[str] = mapped_column(String(512))
    tenant: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    roles: Mapped[list[str]] = mapped_column(default=list)
    """Hub roles (sorted) as mapped by the provider at the last sign-in."""
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Display data from the provider (never identifying); providers own no tables."""
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    needs_reauth: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="linked_accounts")
    token_set: Mapped[TokenSet | None] = relationship(
        back_populates="linked_account", cascade="all, delete-orphan", passive_deletes=True
    )


class TokenSet(Base):
    """A linked account's tokens, as AEAD ciphertext bound to this row (see hub.upstream.vault)."""

    __tablename__ = "token_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    linked_account_id: Mapped[int] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"), unique=True
    )
    key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None]
    scopes_granted: Mapped[str] = mapped_column(Text, default="")
    scopes_requested: Mapped[str] = mapped_column(Text, default="")
    last_refresh_at: Mapped[datetime | None]
    refresh_failures: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    linked_account: Mapped[LinkedAccount] = relationship(back_populates="token_set")


class PendingSignin(Base):
    """What the hub remembers between the redirect and the callback. Single use, 10 minutes.

    Stored under a hash of the state; the PKCE verifier and nonce are derived from the state
    and the secret key (hub.upstream.signin), so the table holds nothing an attacker could replay.
    """

    __tablename__ = "pending_signins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64))
    intent: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    """The user who started a link; None for a sign-in."""
    browser_hash: Mapped[str] = mapped_column(String(64), index=True)
    """Hash of the browser-binding cookie, so a callback only completes in the browser that
    started it (login CSRF), and so one browser keeps only a few sign-ins under way."""
    next_path: Mapped[str] = mapped_column(String(2048), default="/")
    """At most hub.upstream.signin.MAX_NEXT characters are ever written."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SeenLogoutToken(Base):
    """A back-channel logout token already acted on, kept until the token expires.

    The (provider, jti) primary key makes a replay fail on insert in whichever worker it
    reaches; rows past `expires_at` are deleted at each insert and by `hub db purge`.
    """

    __tablename__ = "seen_logout_tokens"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 hex of the token's `jti`: fixed size whatever the provider sends."""
    expires_at: Mapped[datetime] = mapped_column(index=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser. The cookie carries an opaque id; this row is stored under its hash."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    linked_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL")
    )
    provider_session_id: Mapped[str | None] = mapped_column(String(256), index=True)
    """The provider's `sid`, to end this session on a provider-side sign-out."""
    amr: Mapped[list[str]] = mapped_column(default=list)
    """How the person authenticated upstream (`amr`), when the provider said (for ID tokens)."""
    acr: Mapped[str | None] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(default=list)
    """Hub roles (sorted) the provider mapped at this sign-in."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    """Absolute end of the session; the idle limit is checked against last_seen_at."""
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class AuditEvent(Base):
    """One append-only audit record, chained to its predecessor by a keyed MAC (hub.core.audit)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at"),
        Index("ix_audit_events_subject_user_id", "subject_user_id"),
        # The admin console: a user's events, and the sign-in chart (covering).
        Index("ix_audit_events_actor_user_id", "actor_user_id"),
        Index("ix_audit_events_type_occurred_at", "type", "occurred_at", "provider_id", "outcome"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None]
    subject_user_id: Mapped[int | None]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mac: Mapped[str] = mapped_column(String(64))


class AuditRetentionGate(Base):
    """The retention escape hatch of the append-only audit_events table (migration 0002).

    The table's triggers refuse every UPDATE, and every DELETE unless a row here covers the
    deleted event's seq. hub.core.audit.prune inserts that row, deletes, appends its seal and
    removes the row again, all in one transaction, so no other transaction ever sees it open.
    """

    __tablename__ = "audit_retention_gate"

    id: Mapped[int] = mapped_column(primary_key=True)
    through_seq: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A key a back-end service presents to the token API. Only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    """The key's public part, to find its row without scanning; the secret part is hashed."""
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    providers: Mapped[list[str] | None]
    """The key's scope: the providers whose tokens it may fetch; None for every provider."""
    expires_at: Mapped[datetime | None]
    """When the key stops working on its own; None: until revoked."""


# --- the issuer side: applications, codes, grants, refresh-token families, signing keys ---------


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
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """One refresh token of a family, stored under its hash. Rotated on every use."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("token_families.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class ClientAssertion(Base):
    """A `private_key_jwt` assertion's jti, kept until it expires so it is accepted once."""

    __tablename__ = "client_assertions"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SigningKey(Base):
    """One of the hub's own signing keys. The private key is sealed with the token key ring
    (hub.upstream.vault.KeyRing) and bound to its kid; every process reads the same keys."""

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


# --- the issuer side: back-channel logout deliveries (hub.issuer.backchannel) ------------------


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
