"""Signed-in browsers and the sign-ins under way: sessions and pending sign-ins, each stored under a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.models.base import Base, utcnow


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
