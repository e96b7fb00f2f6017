"""OpenID Connect Discovery 1.0 (and RFC 8414): the provider's configuration document, cached.

The document's `issuer` must be the one configured (Discovery 4.3), or every token the hub
accepts later could come from someone else; the check is a callable so Entra's `{tenantid}`
template can have its own rule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from hub.core.errors import ProviderMisconfigured, ProviderUnavailable
from hub.upstream.protocol.common import Clock, read_json

log = logging.getLogger(__name__)

DEFAULT_DISCOVERY_TTL = 24 * 3600
"""Entra serves discovery with `Cache-Control: max-age=86400`."""

@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of an OpenID configuration document the hub uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, document: Mapping[str, Any], url: str) -> ProviderMetadata:
        missing = [
            name
            for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(name), str) or not document.get(name)
        ]
        if missing:
            raise ProviderUnavailable(f"The OpenID configuration at {url} lacks {', '.join(missing)}.")
        end_session = document.get("end_session_endpoint")
        return cls(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            end_session_endpoint=end_session if isinstance(end_session, str) else None,
            raw=dict(document),
        )


def exact_issuer(expected: str) -> Callable[[str], bool]:
    """The usual issuer rule (OIDC Discovery 4.3): the document's issuer equals the
    configured one, character for character."""
    return lambda issuer: issuer == expected


class DiscoveryCache:
    """Fetches an OpenID configuration document once per TTL and refuses one whose `issuer`
    is not the expected one (a mix-up or a misconfigured authority)."""

    def __init__(
        self,
        http: requests.Session,
        url: str,
        *,
        accept_issuer: Callable[[str], bool],
        expected_issuer_text: str,
        ttl: float = DEFAULT_DISCOVERY_TTL,
        clock: Clock = time.time,
    ) -> None:
        """`accept_issuer` decides whether the document's issuer is acceptable (Entra needs a
        template rule for `common`); `expected_issuer_text` says in error messages what was
        expected."""
        self.http = http
        self.url = url
        self.accept_issuer = accept_issuer
        self.expected_issuer_text = expected_issuer_text
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0

    def get(self) -> ProviderMetadata:
        """The cached document, refetched after the TTL. When a refetch fails, a document
        fetched earlier is kept so that a provider blip does not stop sign-ins."""
        with self._lock:
            now = self.clock()
            if self._metadata is not None and now - self._fetched_at < self.ttl:
                return self._metadata
            try:
                self._metadata = self.download()
            except ProviderUnavailable:
                if self._metadata is None:
                    raise
                log.warning("Refetching %s failed; using the copy from earlier.", self.url)
            self._fetched_at = now
            return self._metadata

    def invalidate(self) -> None:
        with self._lock:
            self._fetched_at = 0.0

    def cached(self) -> ProviderMetadata | None:
        """The document fetched earlier (however old), or None; never does network I/O, so
        paths that must not wait on the provider (local sign-out) can still use it."""
        with self._lock:
            return self._metadata

    def download(self) -> ProviderMetadata:
        """Fetch and check the document now, bypassing the cache (health checks)."""
        response = self.http.get(self.url, headers={"Accept": "application/json"})
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(
                f"The OpenID configuration at {self.url} answered HTTP {response.status_code}."
            )
        if response.status_code != 200:
            raise ProviderMisconfigured(
                f"The OpenID configuration at {self.url} answered HTTP {response.status_code}; "
                "check the provider's authority and tenant settings.",
                hint="An administrator must check the provider's settings.",
            )
        document = read_json(response, "OpenID configuration")
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"The OpenID configuration at {self.url} is not an object.")
        metadata = ProviderMetadata.from_document(document, self.url)
        if not self.accept_issuer(metadata.issuer):
            raise ProviderMisconfigured(
                f"The OpenID configuration at {self.url} names the issuer {metadata.issuer!r}, "
                f"but {self.expected_issuer_text} was expected. The hub refuses it so that "
                "tokens from another issuer can never be accepted.",
                code="issuer_mismatch",
                hint="An administrator must check the provider's authority settings.",
            )
        return metadata

