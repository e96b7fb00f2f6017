"""The provider-agnostic authorization-code engine: pending sign-ins, state, PKCE and nonce.

The state is 256 random bits held only by the browser (in the redirect) and stored here as a
hash. The PKCE verifier and the nonce are derived from the state with the secret key, so the
database never holds them and a stolen table row cannot complete a sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, bindparam, delete, func, insert, select, union_all
from sqlalchemy.orm import Session

from hub.core.digest import digest
from hub.core.errors import HubError, SignInError, SignInExpired
from hub.core.models import PendingSignin, utcnow
from hub.core.purging import Purge
from hub.upstream.protocol.authorization import s256_code_challenge
from hub.upstream.provider import AuthorizationRequest, Callback, ProviderType

PENDING_LIFETIME = timedelta(minutes=10)
INTENTS = frozenset({"signin", "link"})
MAX_NEXT = 2048
"""Longest `next` path kept (the column's size); a longer one falls back to "/". Not 512: the
issuer resumes an application's authorization request through `next` (up to 2000 characters,
hub.web.views.issuer.MAX_RESUME_LENGTH). Storage stays bounded by the caps below: at most
`pending_signins_max` rows of about 2.3 KB each."""


class SigninsBusy(HubError):
    """The pending sign-in table is at its cap (`pending_signins_max`), even without expired rows."""

    code = "signins_busy"
    status = 503
    title = "Too many sign-ins under way"
    hint = "Wait a few minutes and sign in again. If it keeps happening, tell your administrator."


@dataclass(frozen=True)
class PendingCaps:
    """What one browser, and everyone together, may have under way (settings
    `pending_signins_per_browser` and `pending_signins_max`)."""

    per_browser: int = 5
    total: int = 20000


def _derive(secret_key: bytes, purpose: str, state: str) -> str:
    mac = hmac.new(secret_key, f"{purpose}\n{state}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def code_verifier(secret_key: bytes, state: str) -> str:
    """43 characters of base64url (RFC 7636's minimum length), unique per state."""
    return _derive(secret_key, "pkce-verifier", state)


def nonce_for(secret_key: bytes, state: str) -> str:
    return _derive(secret_key, "oidc-nonce", state)


def s256_challenge(verifier: str) -> str:
    """The PKCE S256 challenge (RFC 7636 4.2), computed by Authlib."""
    return s256_code_challenge(verifier)


def safe_next(next_path: str | None) -> str:
    """A path on this site, or "/". Refuses absolute URLs, `//host`, backslashes, schemes and
    paths longer than MAX_NEXT."""
    if not next_path or len(next_path) > MAX_NEXT:
        return "/"
    if not next_path.startswith("/") or next_path.startswith("//"):
        return "/"
    if "\\" in next_path or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in next_path):
        return "/"
    parts = urlsplit(next_path)
    if parts.scheme or parts.netloc:
        return "/"
    return next_path


def clean_login_hint(hint: str | None) -> str | None:
    """A login hint fit to forward: printable, at most 256 characters, else none."""
    if not hint or len(hint) > 256 or not hint.isprintable():
        return None
    return hint


def start(
    session: Session,
    provider: ProviderType,
    *,
    secret_key: bytes,
    browser_token: str,
    intent: str = "signin",
    next_path: str | None = None,
    user_id: int | None = None,
    login_hint: str | None = None,
    caps: PendingCaps | None = None,
) -> str:
    """Store a pending sign-in and return the provider's authorization URL to redirect to.
    `login_hint` (an application's OpenID Connect hint) is passed on to the provider.

    Storage stays bounded: a browser keeps at most `caps.per_browser` sign-ins under way (a new
    one drops its oldest), and when the table holds `caps.total` live rows, SigninsBusy.
    """
    caps = caps or PendingCaps()
    if intent not in INTENTS:
        raise SignInError(f"Unknown sign-in intent {intent!r}.", code="bad_intent")
    if intent == "link" and user_id is None:
        raise SignInError("Sign in before linking another account.", code="link_needs_signin")
    now = utcnow()
    browser_hash = digest(browser_token)
    connection = session.connection()
    # Expired rows and this browser's sign-ins beyond its newest `per_browser - 1` go in one
    # statement (indexed on expires_at and browser_hash).
    connection.execute(_PURGE_AND_DROP_OLDEST, {"now": now, "browser": browser_hash, "keep": caps.per_browser - 1})
    if (connection.execute(_LIVE_COUNT, {"cap": caps.total}).scalar() or 0) >= caps.total:
        raise SigninsBusy(
            "The hub has too many sign-ins under way right now, so it cannot start yours."
        )
    state = secrets.token_urlsafe(32)
    connection.execute(
        _INSERT,
        {
            "state_hash": digest(state),
            "provider_id": provider.id,
            "intent": intent,
            "user_id": user_id if intent == "link" else None,
            "browser_hash": browser_hash,
            "next_path": safe_next(next_path),
            "created_at": now,
            "expires_at": now + PENDING_LIFETIME,
        },
    )
    return provider.authorization_url(
        AuthorizationRequest(
            state=state,
            nonce=nonce_for(secret_key, state),
            code_challenge=s256_challenge(code_verifier(secret_key, state)),
            prompt="select_account" if intent == "link" else None,
            login_hint=clean_login_hint(login_hint),
        )
    )


@dataclass(frozen=True)
class ConsumedSignin:
    provider_id: str
    intent: str
    user_id: int | None
    next_path: str
    callback: Callback


def claim(session: Session, state: str | None) -> Row[Any] | None:
    """Delete and return the pending sign-in named by `state` (a row with the columns of
    PendingSignin), exactly once.

    Commit right after: the row is gone whatever happens next, so a replayed or reloaded
    callback finds nothing and never causes a second code redemption.
    """
    if not state or len(state) > 512:
        return None
    # One statement: the row comes back only to the request whose DELETE removed it, so of two
    # concurrent callbacks with the same state exactly one gets it.
    return session.connection().execute(_CLAIM, {"state_hash": digest(state)}).one_or_none()


def check_claimed(
    pending: Row[Any] | None,
    provider_id: str,
    params: dict[str, str],
    *,
    secret_key: bytes,
    browser_token: str | None,
) -> ConsumedSignin:
    """Check a claimed pending sign-in against the callback that presented it.

    Raises SignInExpired (unknown, used, expired, another provider's) or SignInError (started
    in another browser).
    """
    if pending is None:
        if not params.get("state"):
            raise SignInExpired("The sign-in answer carries no state.", code="state_missing")
        raise SignInExpired("This sign-in is unknown or was already used.", code="state_unknown")
    if pending.provider_id != provider_id:
        raise SignInExpired(
            "This sign-in answer arrived for a different provider than the one it started with.",
            code="state_wrong_provider",
        )
    if pending.expires_at <= utcnow():
        raise SignInExpired("This sign-in took longer than ten minutes.", code="state_expired")
    if browser_token is None or not hmac.compare_digest(pending.browser_hash, digest(browser_token)):
        raise SignInError(
            "This sign-in was started in another browser, so it cannot finish in this one.",
            code="state_other_browser",
            hint="Start the sign-in again from this browser.",
        )
    state = params["state"]
    return ConsumedSignin(
        provider_id=pending.provider_id,
        intent=pending.intent,
        user_id=pending.user_id,
        next_path=pending.next_path,
        callback=Callback(
            params=params,
            code_verifier=code_verifier(secret_key, state),
            nonce=nonce_for(secret_key, state),
        ),
    )


# The statements of the sign-in hot path, built once as Core statements: building them per
# call, and the ORM's bookkeeping around them, cost more CPU than running them.
_PENDING = PendingSignin.__table__
_C = _PENDING.c
_OF_BROWSER_BEYOND_NEWEST = (
    select(_C.state_hash)
    .where(_C.browser_hash == bindparam("browser"))
    .order_by(_C.created_at.desc(), _C.state_hash)
    .offset(bindparam("keep"))
)
_BEYOND_NEWEST = _OF_BROWSER_BEYOND_NEWEST.subquery()
_PURGE_AND_DROP_OLDEST = delete(_PENDING).where(
    # A union, not `expired OR in (...)`: PostgreSQL answers an OR across two indexes with a
    # scan of the whole table (4 ms at 20,000 rows, on every start); each half here is an index scan.
    _C.state_hash.in_(
        union_all(
            select(_C.state_hash).where(_C.expires_at <= bindparam("now")),
            select(_BEYOND_NEWEST.c.state_hash),
        )
    )
)
_LIVE_COUNT = select(func.count()).select_from(select(_C.state_hash).limit(bindparam("cap")).subquery())
"""How many rows the table holds, counting no further than the cap (an index-only scan of at
most `cap` entries, not of a table an attacker may have filled)."""
_INSERT = insert(_PENDING)
_CLAIM = delete(_PENDING).where(_C.state_hash == bindparam("state_hash")).returning(*_C)


def purge_target(now: datetime) -> Purge:
    """Pending sign-ins past their lifetime (`hub db purge` deletes them in batches)."""
    return (PendingSignin, PendingSignin.expires_at <= now)


def purge_expired(session: Session) -> int:
    """Delete pending sign-ins past their lifetime; returns how many."""
    model, where = purge_target(utcnow())
    return session.execute(delete(model).where(where)).rowcount or 0
