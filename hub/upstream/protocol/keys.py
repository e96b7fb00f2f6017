"""JSON Web Key Sets (RFC 7517): the provider's signing keys, cached, and key rotation.

A provider rotates keys without notice, so a token signed with a `kid` the cache does not
know triggers a refetch. How often depends on where the token came from:

- *trusted*: an ID token the hub itself fetched from the token endpoint over TLS. Only the
  provider can send one, so a new `kid` is almost surely a rotation: it may refetch, each
  `kid` once per window and at most a few times per minute in all (a broken provider cannot
  turn the hub into a loop).
- *untrusted*: anything anyone can POST (back-channel logout tokens). Each `kid` gets one
  refetch per cooldown, and all untrusted tokens together at most one per cooldown, so a
  flood of forged tokens with random kids costs the provider one request a minute.

The two budgets are separate: a flood of forged logout tokens never stops a sign-in from
picking up a real rotation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from hub.core.errors import ProviderUnavailable
from hub.upstream.protocol.common import Clock, read_json

log = logging.getLogger(__name__)

DEFAULT_JWKS_TTL = 24 * 3600
"""Microsoft suggests refreshing signing keys about once a day."""
DEFAULT_JWKS_COOLDOWN = 60.0
"""Untrusted tokens (logout tokens) with unknown kids refetch the key set at most once per
this many seconds, so a flood of forged tokens cannot turn the hub into an amplifier against
the provider."""
DEFAULT_TRUSTED_REFETCHES = 5
"""Refetches per cooldown window that ID tokens from the token endpoint may cause, each for a
`kid` not tried in that window."""
_MAX_REMEMBERED_KIDS = 1024


@dataclass(frozen=True)
class SigningKey:
    """One key from the provider's JWKS, with the JWK members (Entra's per-key `issuer`)."""

    kid: str | None
    key: RSAKey = field(repr=False)
    params: Mapping[str, Any] = field(repr=False)


def parse_jwks(document: Any, url: str) -> list[SigningKey]:
    """The RSA signature keys of a JWKS document; other keys and weak keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ProviderUnavailable(f"The key set at {url} is not a JWKS document.")
    keys = []
    for member in document["keys"]:
        if not isinstance(member, dict) or member.get("kty") != "RSA":
            continue
        if member.get("use", "sig") != "sig":
            continue
        public_members = {k: member[k] for k in ("kty", "n", "e") if k in member}
        try:
            key = RSAKey.import_key(public_members)
        except (JoseError, ValueError, TypeError):
            log.warning("Skipping a malformed key in %s.", url)
            continue
        if key.raw_value.key_size < 2048:
            continue
        keys.append(SigningKey(member.get("kid"), key, dict(member)))
    return keys


class RefetchBudget:
    """Who may refetch the key set for an unknown kid: each kid once per `window` seconds,
    and at most `limit` refetches per window in all."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._spent: deque[float] = deque()
        self._tried: dict[str, float] = {}

    def allows(self, kid: str, now: float) -> bool:
        """True, and the refetch is counted, when this kid may cause one now."""
        while self._spent and now - self._spent[0] >= self.window:
            self._spent.popleft()
        tried = self._tried.get(kid)
        if (tried is not None and now - tried < self.window) or len(self._spent) >= self.limit:
            return False
        if len(self._tried) >= _MAX_REMEMBERED_KIDS:
            self._tried = {k: t for k, t in self._tried.items() if now - t < self.window}
        self._tried[kid] = now
        self._spent.append(now)
        return True


class JwksCache:
    """The provider's signing keys, cached with a TTL; unknown kids refetch within the
    budgets described in the module docstring."""

    def __init__(
        self,
        http: requests.Session,
        jwks_uri: Callable[[], str],
        *,
        ttl: float = DEFAULT_JWKS_TTL,
        refetch_cooldown: float = DEFAULT_JWKS_COOLDOWN,
        trusted_refetches: int = DEFAULT_TRUSTED_REFETCHES,
        clock: Clock = time.time,
    ) -> None:
        """`jwks_uri` is a callable so the address always comes from the current discovery
        document (it may change between runs)."""
        self.http = http
        self.jwks_uri = jwks_uri
        self.ttl = ttl
        self.refetch_cooldown = refetch_cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: list[SigningKey] | None = None
        self._fetched_at = 0.0
        self._budgets = {
            True: RefetchBudget(trusted_refetches, refetch_cooldown),
            False: RefetchBudget(1, refetch_cooldown),
        }
        self._last_refresh_failed = False
        self.fetch_count = 0
        """How many times the key set was downloaded; the admin page and tests read it."""

    def keys(self) -> list[SigningKey]:
        """The current keys, downloading them when none are cached or the TTL ran out."""
        with self._lock:
            now = self.clock()
            if self._keys is None or now - self._fetched_at >= self.ttl:
                self._refresh(now, keep_stale=True)
            assert self._keys is not None
            return list(self._keys)

    def candidates(self, kid: str | None, *, trusted: bool = False) -> list[SigningKey]:
        """Keys that may have signed a token with this `kid` header. A kid not in the cache
        refetches the key set when the channel's budget allows (`trusted` only for ID tokens
        the hub fetched from the token endpoint itself)."""
        keys = self.keys()
        matching = _matching_keys(keys, kid)
        if matching or kid is None:
            return matching
        with self._lock:
            now = self.clock()
            matching = _matching_keys(self._keys or [], kid)  # another thread may have refetched
            if matching:
                return matching
            if not self._budgets[trusted].allows(kid, now):
                if self._last_refresh_failed:
                    raise ProviderUnavailable(
                        "The provider's signing keys could not be refreshed, so a token signed "
                        "with a new key cannot be checked yet."
                    )
                return []
            self._refresh(now, keep_stale=False)
            return _matching_keys(self._keys or [], kid)

    def _refresh(self, now: float, *, keep_stale: bool) -> None:
        try:
            self._keys = self.download()
            self._fetched_at = now
            self._last_refresh_failed = False
        except ProviderUnavailable:
            self._last_refresh_failed = True
            if keep_stale and self._keys is not None:
                log.warning("Refetching signing keys failed; using the cached keys.")
                self._fetched_at = now - self.ttl + self.refetch_cooldown
                return
            raise

    def download(self) -> list[SigningKey]:
        """Fetch the key set now, bypassing the cache (health checks use it too)."""
        url = self.jwks_uri()
        self.fetch_count += 1
        response = self.http.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise ProviderUnavailable(
                f"The signing keys at {url} could not be fetched (HTTP {response.status_code})."
            )
        return parse_jwks(read_json(response, "key set"), url)


def _matching_keys(keys: list[SigningKey], kid: str | None) -> list[SigningKey]:
    """With a kid: the keys with that kid. Without one: every key, tried in JWKS order (the
    conformance suite accepts trying each candidate; the result is deterministic)."""
    if kid is None:
        return list(keys)
    return [key for key in keys if key.kid == kid]
