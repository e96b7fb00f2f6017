"""Prometheus metrics: what the hub counts, one helper per thing counted, and the scrape.

Labels come only from small fixed vocabularies (provider ids, endpoint names, error codes,
grant types, application ids), never from request data: `label()` turns any value that is not
a short identifier into "other", so no person, address, token or URL can become a label.

Under gunicorn every worker is its own process: prometheus-client's multiprocess mode has each
write its samples to files in one directory, and a scrape adds them up. `hub serve
--production` sets that directory up (`use_directory`) before the workers fork; a hub run by
another process manager reads PROMETHEUS_MULTIPROC_DIR like any prometheus-client program.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"

_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def label(value: object, allowed: frozenset[str] | None = None) -> str:
    """A safe label value: `value` when it is a short identifier (and in `allowed`, if given),
    otherwise "other". Email addresses, URLs and free text all fail the pattern."""
    text = value if isinstance(value, str) else ""
    if not _LABEL.match(text) or "@" in text or (allowed is not None and text not in allowed):
        return OTHER
    return text


# --- what is counted ---------------------------------------------------------------------------
# Every metric has labels, so no sample exists before its first use: that lets the multiprocess
# value class be chosen after import (use_directory) but before the first sample.

SIGNINS = Counter(
    "hub_signins", "Completed sign-ins and links, by provider and intent.",
    ["provider", "intent"], registry=None,
)
SIGNIN_FAILURES = Counter(
    "hub_signin_failures", "Failed sign-ins and links, by provider, intent and reason (error code).",
    ["provider", "intent", "reason"], registry=None,
)
CALLBACK_SECONDS = Histogram(
    "hub_callback_duration_seconds", "Time to finish a provider callback, provider calls included.",
    ["provider"], buckets=_LATENCY_BUCKETS, registry=None,
)
PROVIDER_SECONDS = Histogram(
    "hub_provider_request_duration_seconds", "Outbound calls to identity providers, by endpoint.",
    ["provider", "endpoint"], buckets=_LATENCY_BUCKETS, registry=None,
)
PROVIDER_ERRORS = Counter(
    "hub_provider_request_errors",
    "Outbound calls that failed: timeout, unreachable, or an HTTP 4xx/5xx answer.",
    ["provider", "endpoint", "kind"], registry=None,
)
REFRESHES = Counter(
    "hub_token_refreshes", "Refreshes of linked accounts' tokens, by provider and outcome.",
    ["provider", "outcome"], registry=None,
)
REFRESH_FAILURES = Counter(
    "hub_token_refresh_failures", "Failed refreshes, by provider and reason (error code).",
    ["provider", "reason"], registry=None,
)
REFRESH_WAITS = Counter(
    "hub_token_refresh_waits",
    "Callers that waited for another caller's refresh of the same account and used its result.",
    ["provider"], registry=None,
)
TOKEN_API = Counter(
    "hub_token_api_requests", "Token API calls, by outcome (success or the error code).",
    ["outcome"], registry=None,
)
RATELIMIT_REJECTIONS = Counter(
    "hub_ratelimit_rejections", "Requests refused by a rate limit, by the limit's name.",
    ["limit"], registry=None,
)
ISSUER_GRANTS = Counter(
    "hub_issuer_grants", "Token endpoint answers, by grant type, application and outcome.",
    ["grant_type", "application", "outcome"], registry=None,
)
BACKCHANNEL_DELIVERIES = Counter(
    "hub_backchannel_logout_deliveries",
    "Back-channel logout tokens sent to applications, by application and outcome.",
    ["application", "outcome"], registry=None,
)
UPSTREAM_CHECKS = Counter(
    "hub_upstream_checks",
    "Re-checks of linked accounts at their provider (hub.upstream.checks), by provider and outcome.",
    ["provider", "outcome"], registry=None,
)
ALL = (
    UPSTREAM_CHECKS, SIGNINS, SIGNIN_FAILURES, CALLBACK_SECONDS, PROVIDER_SECONDS, PROVIDER_ERRORS, REFRESHES, REFRESH_FAILURES,
    REFRESH_WAITS, TOKEN_API, RATELIMIT_REJECTIONS, ISSUER_GRANTS, BACKCHANNEL_DELIVERIES,
)

DELIVERY_OUTCOMES = frozenset({"delivered", "rejected", "unreachable", "timed_out", "skipped"})
INTENTS = frozenset({"signin", "link"})
GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})
"""The grant types the hub's token endpoint knows; a request's other values count as "other"."""
OAUTH_ERRORS = frozenset({
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "access_denied", "unsupported_response_type", "server_error", "temporarily_unavailable",
    "invalid_token", "insufficient_scope", "unsupported_token_type", "login_required", "consent_required",
    "interaction_required", "account_selection_required", "invalid_request_uri", "invalid_request_object",
    "request_not_supported", "request_uri_not_supported", "registration_not_supported",
})
"""Error codes of RFC 6749, 6750, 7009 and OpenID Connect Core: the issuer's outcomes."""
ISSUER_OUTCOMES = OAUTH_ERRORS | {"success"}
CHECK_OUTCOMES = frozenset({"confirmed", "refused", "transient", "unsupported"})
ENDPOINT_ERRORS = frozenset({"timeout", "unreachable", "http_4xx", "http_5xx"})


# --- helpers: the only way the rest of the hub counts ------------------------------------------


def signin_succeeded(provider: str, intent: str) -> None:
    SIGNINS.labels(label(provider), label(intent, INTENTS)).inc()


def signin_failed(provider: str, intent: str, reason: str) -> None:
    SIGNIN_FAILURES.labels(label(provider), label(intent, INTENTS), label(reason)).inc()


@contextmanager
def callback_timer(provider: str) -> Iterator[None]:
    """Observe how long the block takes, whether it succeeds or raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        CALLBACK_SECONDS.labels(label(provider)).observe(time.perf_counter() - started)


def provider_call(provider: str, endpoint: str, seconds: float, error: str | None = None) -> None:
    """One outbound call; `error` is its kind ("timeout", "unreachable", "http_4xx", "http_5xx")."""
    PROVIDER_SECONDS.labels(label(provider), label(endpoint)).observe(seconds)
    if error is not None:
        PROVIDER_ERRORS.labels(label(provider), label(endpoint), label(error, ENDPOINT_ERRORS)).inc()


def token_refreshed(provider: str) -> None:
    REFRESHES.labels(label(provider), "success").inc()


def token_refresh_failed(provider: str, reason: str) -> None:
    REFRESHES.labels(label(provider), "failure").inc()
    REFRESH_FAILURES.labels(label(provider), label(reason)).inc()


def token_refresh_waited(provider: str) -> None:
    """Single-flight: this caller found the token refreshed by the one it waited for."""
    REFRESH_WAITS.labels(label(provider)).inc()


def token_api_call(outcome: str) -> None:
    """`outcome` is "success" or the error code the API answered with."""
    TOKEN_API.labels(label(outcome)).inc()


def ratelimit_rejected(limit: str) -> None:
    """`limit` is the limit's short fixed name, never its key (an address or a user)."""
    RATELIMIT_REJECTIONS.labels(label(limit)).inc()


def issuer_grant(grant_type: str, application: str, outcome: str = "success") -> None:
    """One token endpoint answer: `grant_type` the request's (a known one, else "other"),
    `outcome` "success" or the RFC 6749 error code; `application` the client_id of an
    *authenticated* client ("unknown" otherwise: a client id the request merely names is
    anyone's choice, and each new one would be a new series)."""
    ISSUER_GRANTS.labels(
        label(grant_type, GRANT_TYPES), label(application), label(outcome, ISSUER_OUTCOMES)
    ).inc()


def backchannel_logout_delivery(application: str, outcome: str) -> None:
    """One back-channel logout to an application: delivered, rejected, unreachable, timed_out or skipped."""
    BACKCHANNEL_DELIVERIES.labels(label(application), label(outcome, DELIVERY_OUTCOMES)).inc()


def upstream_check(provider: str, outcome: str) -> None:
    """One re-check of an account at its provider: confirmed, refused, transient or unsupported."""
    UPSTREAM_CHECKS.labels(label(provider), label(outcome, CHECK_OUTCOMES)).inc()


# --- multiprocess mode -------------------------------------------------------------------------


def multiprocess_directory() -> Path | None:
    directory = os.environ.get(MULTIPROC_ENV)
    return Path(directory) if directory else None


def use_directory(directory: Path) -> None:
    """Share samples between the processes forked from this one through files in `directory`,
    emptied first (samples of an earlier run would otherwise be added to this run's).

    Call before any sample is recorded and before workers fork. prometheus-client picks its
    value class from the environment at import, which the CLI has done long before it knows
    it will serve with gunicorn, so the class is switched here as well.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()


# --- the scrape --------------------------------------------------------------------------------


class _Collected:
    """A collector for values read at scrape time (the audit chain head)."""

    def __init__(self, read: Callable[[], Sequence[GaugeMetricFamily]]) -> None:
        self._read = read

    def collect(self) -> Sequence[GaugeMetricFamily]:
        return self._read()


def exposition(extra: Callable[[], Sequence[GaugeMetricFamily]] | None = None) -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's added up."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_directory()
    if directory is not None and directory.is_dir():
        MultiProcessCollector(registry, path=str(directory))
    else:
        for metric in ALL:
            registry.register(metric)
    if extra is not None:
        registry.register(_Collected(extra))
    return generate_latest(registry)


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


# --- who may scrape ----------------------------------------------------------------------------


class ScrapeGuard:
    """Who may read /metrics: clients from `allow` (networks), holders of `token`, or, with
    both set, only a client from `allow` that holds the token. Neither set: nobody."""

    def __init__(self, allow: Sequence[str], token: str | None) -> None:
        self.networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in allow)
        self._token = token.encode() if token else None

    @property
    def enabled(self) -> bool:
        return bool(self.networks) or self._token is not None

    def address_allowed(self, address: str | None) -> bool:
        if not self.networks:
            return True
        try:
            client = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(client in network for network in self.networks)

    def token_accepted(self, authorization: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, presented = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), self._token)


# --- tests and tools ---------------------------------------------------------------------------


def value(name: str, **labels: str) -> float:
    """The current value of one sample in this process (0.0 if never counted); for tests, which
    should compare before and after since counters are process-wide."""
    registry = CollectorRegistry(auto_describe=False)
    for metric in ALL:
        registry.register(metric)
    found = registry.get_sample_value(name, labels)
    return found or 0.0


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples of a scrape by (name, sorted labels), for tests and tools reading /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples

