"""Outbound HTTP for providers: every call has a timeout and at most one bounded retry.

Providers use the session from ProviderContext.http for every request so that unit tests
can mock at the HTTP layer (`responses`) and nothing ever waits without a limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from hub.errors import ProviderUnavailable

RETRY_STATUSES = frozenset({429, 503})
DEFAULT_TIMEOUT = (3.05, 10.0)
"""(connect, read) seconds."""
MAX_RETRY_AFTER = 5.0
"""A Retry-After longer than this is not waited for: the person gets a clear error instead."""


class ProviderSession(requests.Session):
    """requests.Session with default timeouts and one retry on 429/503 honouring Retry-After."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_retry_after: float = MAX_RETRY_AFTER,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self.headers["User-Agent"] = "identity-hub"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = super().request(method, url, *args, **kwargs)
            if response.status_code in RETRY_STATUSES:
                delay = retry_delay(response, self.max_retry_after)
                if delay is not None:
                    self._sleep(delay)
                    response = super().request(method, url, *args, **kwargs)
        except requests.Timeout as exc:
            raise ProviderUnavailable(f"The identity provider did not answer in time ({_host(url)}).") from exc
        except requests.ConnectionError as exc:
            raise ProviderUnavailable(f"The identity provider could not be reached ({_host(url)}).") from exc
        return response


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
