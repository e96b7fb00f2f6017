"""Outbound HTTP for providers: every call has a timeout and at most one bounded retry, and is
measured (hub.metrics) by provider and endpoint.

Providers use the session from ProviderContext.http for every request so that unit tests
can mock at the HTTP layer (`responses`) and nothing ever waits without a limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from hub import metrics
from hub.errors import ProviderUnavailable

RETRY_STATUSES = frozenset({429, 503})
"""Statuses retried once (any method), after Retry-After when it is short enough."""
DEFAULT_TIMEOUT = (3.05, 10.0)
"""(connect, read) seconds."""
MAX_RETRY_AFTER = 5.0
"""A Retry-After longer than this is not waited for: the person gets a clear error instead."""


class ProviderSession(requests.Session):
    """requests.Session with default timeouts and one retry on 429/503 honouring Retry-After.

    What a plugin can rely on, for every method (GET and POST alike):

    - A timeout on every call (`DEFAULT_TIMEOUT`, connect and read), unless the call passes
      its own.
    - A timeout raises `hub.errors.ProviderUnavailable`, and so does a connection error (DNS,
      refused, reset): never requests' own exceptions.
    - An HTTP error status is *not* raised: the response comes back, and the plugin decides
      (5xx is usually ProviderUnavailable, 401 from a token endpoint ProviderMisconfigured).
    - One retry, only after 429 or 503, waiting `Retry-After` when it is at most
      `MAX_RETRY_AFTER` seconds (0.5 s when the header is absent); a longer Retry-After is
      not waited for and the 429/503 response is returned. POSTs are retried too: a token
      endpoint that answers 429/503 has not redeemed the code.
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_retry_after: float = MAX_RETRY_AFTER,
        sleep: Callable[[float], None] = time.sleep,
        provider_id: str = "unknown",
    ) -> None:
        super().__init__()
        self.provider_id = provider_id
        """The provider this session calls for, the label of its metrics."""
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self.headers["User-Agent"] = "identity-hub"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send like requests.Session.request, with the rules of the class docstring: a
        timeout, ProviderUnavailable for timeouts and connection errors, one retry on 429/503."""
        kwargs.setdefault("timeout", self.timeout)
        endpoint = endpoint_name(method, url)
        started = time.perf_counter()
        try:
            response = super().request(method, url, *args, **kwargs)
            if response.status_code in RETRY_STATUSES:
                delay = retry_delay(response, self.max_retry_after)
                if delay is not None:
                    self._sleep(delay)
                    response = super().request(method, url, *args, **kwargs)
        except requests.Timeout as exc:
            metrics.provider_call(self.provider_id, endpoint, time.perf_counter() - started, "timeout")
            raise ProviderUnavailable(f"The identity provider did not answer in time ({_host(url)}).") from exc
        except requests.ConnectionError as exc:
            metrics.provider_call(self.provider_id, endpoint, time.perf_counter() - started, "unreachable")
            raise ProviderUnavailable(f"The identity provider could not be reached ({_host(url)}).") from exc
        status = response.status_code
        error = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else None
        metrics.provider_call(self.provider_id, endpoint, time.perf_counter() - started, error)
        return response


    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """requests reads the proxy and CA-bundle variables of the whole environment on every
        call (a tenth of a sign-in's outbound-call CPU); they do not change while the hub runs,
        so they are read once per origin and the result reused."""
        if proxies or not self.trust_env or url is None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (_origin(url), stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if len(self._environment) >= MAX_CACHED_ORIGINS:
                self._environment.clear()
            self._environment[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


MAX_CACHED_ORIGINS = 64


def _origin(url: str | bytes) -> str:
    text = url.decode() if isinstance(url, bytes) else url
    parts = requests.utils.urlparse(text)
    return f"{parts.scheme}://{parts.netloc}"


_ENDPOINTS = (
    ("discovery", re.compile(r"/\.well-known/")),
    ("revocation", re.compile(r"revoke|revocation")),
    ("token", re.compile(r"/(access_)?token$")),
    ("jwks", re.compile(r"(keys|jwks|jwks\.json|certs)$")),
    ("userinfo", re.compile(r"userinfo$")),
    ("profile", re.compile(r"/(me|user|user/emails)$")),
)


def endpoint_name(method: str | bytes, url: str | bytes) -> str:
    """A metrics label for an outbound call: one of a few fixed names (discovery, jwks, token,
    revocation, userinfo, profile, other), from the URL's path only, so that no query, host or
    identifier in a path ever becomes a label. A DELETE is a revocation (GitHub's grant API)."""
    verb = method.decode() if isinstance(method, bytes) else method
    if verb.upper() == "DELETE":
        return "revocation"
    text = url.decode() if isinstance(url, bytes) else url
    path = requests.utils.urlparse(text).path.lower().rstrip("/")
    for name, pattern in _ENDPOINTS:
        if pattern.search(path):
            return name
    return "other"


def retry_delay(response: requests.Response, bound: float) -> float | None:
    """Seconds to wait before the single retry, or None when Retry-After exceeds `bound`."""
    header = response.headers.get("Retry-After")
    if header is None:
        return min(0.5, bound)
    try:
        seconds = float(header)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(header).timestamp() - time.time()
        except (TypeError, ValueError):
            return min(0.5, bound)
    seconds = max(0.0, seconds)
    return seconds if seconds <= bound else None


def _host(url: str | bytes) -> str:
    text = url.decode() if isinstance(url, bytes) else url
    return requests.utils.urlparse(text).netloc
