"""The console's providers page: plugins, configured providers and their live health checks.

A health check calls the provider over the network, so each provider's checks run in a
worker thread with a deadline: a provider that hangs or raises shows as failing with the
reason, and never slows the page past HEALTH_TIMEOUT or breaks it.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from hub.core.audit import clean_text
from hub.core.errors import HubError
from hub.upstream.provider import HealthCheck, ProviderType

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 3.0


@dataclass(frozen=True)
class ProviderHealth:
    provider_id: str
    checks: tuple[HealthCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def check_all(providers: dict[str, ProviderType], timeout: float = HEALTH_TIMEOUT) -> dict[str, ProviderHealth]:
    """Every provider's health checks, run in parallel, each answer within `timeout` seconds."""
    if not providers:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(8, len(providers)), thread_name_prefix="hub-health")
    try:
        futures = {pid: pool.submit(_checks_of, provider) for pid, provider in providers.items()}
        results: dict[str, ProviderHealth] = {}
        for provider_id, future in futures.items():
            try:
                checks = future.result(timeout=timeout)
            except FutureTimeout:
                checks = (HealthCheck("reachable", False, f"no answer within {timeout:g} s"),)
            results[provider_id] = ProviderHealth(provider_id, checks)
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _checks_of(provider: ProviderType) -> tuple[HealthCheck, ...]:
    try:
        checks = tuple(provider.health())
    except HubError as error:
        return (HealthCheck("health check", False, clean_text(error.message, 300)),)
    except Exception as error:  # a plugin's bug shows as a failed check, not a broken page
        log.warning("health check of provider %s raised %s", provider.id, type(error).__name__)
        return (HealthCheck("health check", False, f"the check raised {type(error).__name__}: {clean_text(str(error), 200)}"),)
    return checks or (HealthCheck("health checks", True, "this provider type offers no live checks"),)
