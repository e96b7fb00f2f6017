"""A linked account's token health (valid, expired, needs sign-in again, none), from metadata only,
in Python for a row and in SQL for the list filter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from hub.core.models import LinkedAccount, TokenSet

TOKEN_STATES: dict[str, str] = {
    "valid": "Valid",
    "expired": "Access token expired",
    "reauth": "Needs sign-in again",
    "none": "No tokens stored",
}
"""Token state -> label. `expired` is normal between uses (the vault refreshes on demand);
`reauth` means the provider refused the refresh token (or it was unreadable): only the user
signing in again fixes it."""


def token_state(needs_reauth: bool, has_tokens: bool, access_expires_at: datetime | None, now: datetime) -> str:
    """The health of one linked account's tokens, from metadata only (tokens stay sealed)."""
    if needs_reauth:
        return "reauth"
    if not has_tokens:
        return "none"
    if access_expires_at is not None and access_expires_at < now:
        return "expired"
    return "valid"


def token_state_condition(state: str, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of `token_state`, for the list filter."""
    healthy = LinkedAccount.needs_reauth.is_(False)
    conditions: dict[str, ColumnElement[bool]] = {
        "reauth": LinkedAccount.needs_reauth.is_(True),
        "none": and_(healthy, TokenSet.id.is_(None)),
        "expired": and_(healthy, TokenSet.access_expires_at < now),
        "valid": and_(
            healthy,
            TokenSet.id.is_not(None),
            or_(TokenSet.access_expires_at.is_(None), TokenSet.access_expires_at >= now),
        ),
    }
    return conditions[state]
