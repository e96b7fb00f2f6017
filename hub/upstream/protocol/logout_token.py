"""Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, 2.4 and 2.6).

Anyone can POST a logout token, so it is an *untrusted* channel: an unknown `kid` refetches
the provider's keys only within the untrusted budget (hub.upstream.protocol.keys). `jti` is required, so
a replay can always be recognised: the validated token carries `jti` and the time until
which it must be remembered (`expires_at`), and the core keeps seen ids in the database; the
in-process `JtiCache` here is a first, per-process line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.core.errors import TokenRejected
from hub.upstream.protocol.common import Clock, is_number
from hub.upstream.protocol.id_token import IdTokenValidator

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a JWT type name, not a secret


@dataclass(frozen=True)
class ValidatedLogoutToken:
    """A logout token that passed every check: it names a provider session (`sid`), a
    person (`sub`), or both, and carries its id (`jti`)."""

    sid: str | None
    sub: str | None
    claims: Mapping[str, Any] = field(repr=False)
    jti: str | None = None
    expires_at: datetime | None = None
    """Until when the token could be accepted (`exp` plus the clock-skew tolerance): how long
    its `jti` must be remembered to refuse a replay."""


class JtiCache:
    """Remembers logout token ids until they expire, so a replayed token is refused."""

    def __init__(self, clock: Clock = time.time, max_entries: int = 10_000) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_use(self, jti: str, expires_at: float) -> bool:
        """True the first time this id is seen before it expires; False on a replay."""
        with self._lock:
            now = self.clock()
            if len(self._seen) >= self.max_entries:
                self._seen = {key: exp for key, exp in self._seen.items() if exp > now}
            if jti in self._seen and self._seen[jti] > now:
                return False
            self._seen[jti] = expires_at
            return True


def _invalid(message: str) -> TokenRejected:
    return TokenRejected(message, code="logout_token_invalid")


class LogoutTokenValidator:
    """Checks a logout token (section 2.6): the same signature, issuer, audience and time
    rules as an ID token, then `typ` (when present) `logout+jwt`, the back-channel logout
    event, `sid` or `sub`, no `nonce`, and a `jti` seen only once."""

    def __init__(self, id_tokens: IdTokenValidator, jti_cache: JtiCache | None = None) -> None:
        """Reuses the provider's ID token validator, so keys, issuer and audience rules are
        the provider's own."""
        self.id_tokens = id_tokens
        self.jti_cache = jti_cache or JtiCache(id_tokens.clock)

    def validate(self, logout_token: str) -> ValidatedLogoutToken:
        header, claims, _key = self.id_tokens.verify_signature(logout_token, trusted=False)
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in {LOGOUT_TOKEN_TYPE, f"application/{LOGOUT_TOKEN_TYPE}"}:
            raise _invalid("The logout token's type (typ) is not logout+jwt.")
        self._check_standard_claims(claims)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
            raise _invalid("The logout token carries no back-channel logout event.")
        if "nonce" in claims:
            raise _invalid("A logout token must not carry a nonce.")
        sid, sub = claims.get("sid"), claims.get("sub")
        sid = sid if isinstance(sid, str) and sid else None
        sub = sub if isinstance(sub, str) and sub else None
        if sid is None and sub is None:
            raise _invalid("The logout token names neither a session (sid) nor a person (sub).")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise _invalid("The logout token carries no usable token id (jti), so a replay could not be recognised.")
        until = float(claims["exp"]) + self.id_tokens.skew_seconds
        try:
            expires_at = datetime.fromtimestamp(until, UTC)
        except (OverflowError, ValueError, OSError) as exc:
            raise _invalid("The logout token's expiry (exp) is not a usable time.") from exc
        if not self.jti_cache.first_use(jti, until):
            raise TokenRejected("This logout token was already used.", code="logout_token_replayed")
        return ValidatedLogoutToken(sid=sid, sub=sub, claims=claims, jti=jti, expires_at=expires_at)

    def _check_standard_claims(self, claims: Mapping[str, Any]) -> None:
        if not is_number(claims.get("iat")) or not is_number(claims.get("exp")):
            raise _invalid("The logout token lacks iat or exp.")
        issuer, expected = claims.get("iss"), self.id_tokens.expected_issuer(claims)
        if issuer != expected:
            raise TokenRejected(
                f"The logout token was issued by {str(issuer)[:200]!r}, not by {expected!r}.",
                code="issuer_mismatch",
            )
        self.id_tokens.check_audience(claims)
        self.id_tokens.check_times(claims)
