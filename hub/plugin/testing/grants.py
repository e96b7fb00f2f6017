"""What a fake authorization server hands out and takes back: single-use authorization codes
bound to a redirect URI and a PKCE S256 challenge, access tokens and refresh tokens.

Generic over the person type, so each fake keeps its own people (`Person`, a GitHub user, a
directory entry) and its own answer bodies, while the rules every strict server enforces are
written once: a code works once and expires, its redirect URI and PKCE verifier must match,
a token stops working when it expires or is revoked, a refresh token can be spent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")
FOREVER = float("inf")
"""The lifetime of a token that never expires (GitHub's classic OAuth tokens)."""


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class GrantRefused(Exception):
    """A code cannot be redeemed; `reason` says why: `unknown` (also used or expired),
    `redirect_uri` or `pkce`. Each fake turns it into its own error answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CodeGrant(Generic[P]):
    """What an authorization code stands for."""

    person: P
    redirect_uri: str | None
    """None: the request named none, so the token request need not either."""
    challenge: str | None
    """The PKCE S256 challenge; None when the request sent none (then no verifier is checked)."""
    scope: str = ""
    nonce: str | None = None
    expires_at: float = FOREVER
    """Set by `Grants.issue_code` from its `code_lifetime` unless given."""


@dataclass
class IssuedToken(Generic[P]):
    """An access or refresh token: whose, for what scope, until when (on the fake's clock)."""

    person: P
    scope: str
    expires_at: float


class Grants(Generic[P]):
    """Codes, access tokens and refresh tokens of one fake server, safe across its threads."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        code_lifetime: float = 600,
        prefixes: tuple[str, str, str] = ("", "", ""),
    ) -> None:
        """`prefixes`: how this server's codes, access tokens and refresh tokens start
        (GitHub's `ghu_`/`ghr_`), so a leaked value is recognisable."""
        self.clock = clock
        self.code_lifetime = code_lifetime
        self.code_prefix, self.access_prefix, self.refresh_prefix = prefixes
        self.codes: dict[str, CodeGrant[P]] = {}
        self.access: dict[str, IssuedToken[P]] = {}
        self.refresh: dict[str, IssuedToken[P]] = {}
        self.issued: list[str] = []
        """Every code and token handed out, spent or not: what must never reach a log."""
        self.lock = threading.RLock()

    # --- codes ----------------------------------------------------------------------------------

    def issue_code(self, grant: CodeGrant[P]) -> str:
        """A new code for `grant`; its expiry is set from `code_lifetime` unless given."""
        code = self.code_prefix + secrets.token_urlsafe(16)
        if grant.expires_at == FOREVER:
            grant.expires_at = self.clock() + self.code_lifetime
        with self.lock:
            self.codes[code] = grant
            self.issued.append(code)
        return code

    def redeem_code(self, code: str, redirect_uri: str | None, verifier: str | None) -> CodeGrant[P]:
        """The grant behind `code`, spent by this call whatever the outcome (single use);
        raises GrantRefused when it is unknown, expired, or its redirect URI or PKCE verifier
        does not match."""
        with self.lock:
            grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at < self.clock():
            raise GrantRefused("unknown")
        if grant.redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise GrantRefused("redirect_uri")
        if grant.challenge is not None and not (verifier and hmac.compare_digest(s256(verifier), grant.challenge)):
            raise GrantRefused("pkce")
        return grant

    # --- tokens ---------------------------------------------------------------------------------

    def issue_access(self, person: P, scope: str, lifetime: float = FOREVER) -> str:
        token = self.access_prefix + secrets.token_urlsafe(27)
        with self.lock:
            self.access[token] = IssuedToken(person, scope, self.clock() + lifetime)
            self.issued.append(token)
        return token

    def issue_refresh(self, person: P, scope: str, lifetime: float = FOREVER) -> str:
        token = self.refresh_prefix + secrets.token_urlsafe(27)
        with self.lock:
            self.refresh[token] = IssuedToken(person, scope, self.clock() + lifetime)
            self.issued.append(token)
        return token

    def holder(self, access_token: str) -> P | None:
        """Whom a live access token belongs to; None when unknown, expired or revoked."""
        with self.lock:
            held = self.access.get(access_token)
        return held.person if held is not None and held.expires_at >= self.clock() else None

    def spend_refresh(self, refresh_token: str) -> IssuedToken[P] | None:
        """The live refresh token's grant, spent by this call (single use, rotation)."""
        with self.lock:
            held = self.refresh.pop(refresh_token, None)
        return held if held is not None and held.expires_at >= self.clock() else None

    def find_refresh(self, refresh_token: str) -> IssuedToken[P] | None:
        """The live refresh token's grant, left usable (servers that do not rotate)."""
        with self.lock:
            held = self.refresh.get(refresh_token)
        return held if held is not None and held.expires_at >= self.clock() else None

    def revoke(self, token: str) -> str | None:
        """Revoke an access or refresh token (RFC 7009); returns which kind it was, or None."""
        with self.lock:
            if self.access.pop(token, None) is not None:
                return "access_token"
            if self.refresh.pop(token, None) is not None:
                return "refresh_token"
        return None

    def revoke_person(self, matches: Callable[[P], bool]) -> None:
        """Every token of the people `matches` picks stops working (the app was revoked)."""
        with self.lock:
            self.access = {t: held for t, held in self.access.items() if not matches(held.person)}
            self.refresh = {t: held for t, held in self.refresh.items() if not matches(held.person)}


__all__ = ["FOREVER", "CodeGrant", "GrantRefused", "Grants", "IssuedToken", "s256"]
