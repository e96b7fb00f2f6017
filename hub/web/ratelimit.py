"""Rate limits on the routes anyone can call without signing in, with Flask-Limiter.

A view function or a blueprint *declares* a rule with `limit(name, ...)`; `init_app` builds
one Flask-Limiter `Limiter` per app from the rules the app's routes declared and checks them
in a `before_request` hook that runs before the session lookup and the CSRF check, so a flood
costs neither a database read nor an audit event per request. A rule is a named bucket: its
limit (a Flask-Limiter limit string, by default the hub setting `ratelimit_<name>`) and a key
function (by default the client's address) say how many requests one key may make.

Counters live in `ratelimit_storage`: `memory://` in development and tests (one process),
Redis in production (every worker shares the counts; production refuses memory, and a Redis
that does not answer stops the start). A limited request gets 429 with `Retry-After` and the
hub's readable page, or its JSON error on /api; the first refusal of a burst (per rule, key and
window) writes one audit event, the others none.

Beside the rules views declare, one rule covers every route nobody exempted: `anonymous`, a
per-address allowance that the requests of clients who did not prove who they are spend
(no signed-in session and no `authenticated()` call, or any refused answer, status >= 400).
A route someone adds without thinking of limits is therefore limited; a route that must not
be (static files, health probes: they write nothing) says so with `exempt(reason)`.

See /work/briefs/interfaces/ratelimit.md and docs/configuration.md for the API and settings.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, after_this_request, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded, RequestLimit
from limits import parse_many
from werkzeug.wrappers import Response

from hub.core import metrics
from hub.core.config import IN_PROCESS_STORAGE, Settings
from hub.core.errors import ConfigError
from hub.web.request import audit_context, runtime

__all__ = [
    "ANONYMOUS", "RateLimitExceeded", "RateLimits", "Rule", "authenticated", "client_address", "exempt", "init_app",
    "limit", "rate_limits",
]

log = logging.getLogger(__name__)

KeyFunc = Callable[[], str]
T = TypeVar("T")
EXTENSION = "hub.web.ratelimit"
_ATTRIBUTE = "hub_rate_limits"
_EXEMPT_ATTRIBUTE = "hub_rate_limit_exempt"
_AUTHENTICATED = "hub_authenticated"
EXEMPT_ENDPOINTS = {
    "static": "the hub's own files: they write nothing and every page loads several",
}
"""Endpoints Flask or plugins create without a view of ours to decorate; a plugin blueprint's
`<name>.static` is exempt for the same reason."""


def client_address() -> str:
    """The client's address (after `trusted_proxies`), an IPv6 client's /64 network: one
    host's whole allocation is one key, so it cannot rotate addresses to escape a limit."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Rule:
    """One named limit. `limit` None means the hub setting `ratelimit_<name>`."""

    name: str
    limit: str | None = None
    key: KeyFunc = client_address

    def limit_string(self, settings: Settings) -> str:
        if self.limit is not None:
            return self.limit
        value = getattr(settings, f"ratelimit_{self.name}", None)
        if not isinstance(value, str):
            raise ConfigError(
                f"rate-limit rule {self.name!r}: give it a limit string, or add the setting "
                f"ratelimit_{self.name} to hub.core.config"
            )
        return value


def limit(name: str, *, limit: str | None = None, key: KeyFunc = client_address) -> Callable[[T], T]:
    """Declare a rule on a view function (as a decorator) or on a blueprint (`limit(...)(bp)`).

    A rule on a blueprint covers each of its routes; a view's own rules come in addition. Every
    route under one rule name shares its buckets (one count per key across them). `key` must
    return a non-empty string for the request (say an application's client id, or the client
    address when the request names none); it runs only for requests the rule covers, before
    the view, so it may read the request but not `g.current_session`.
    """
    rule = Rule(name, limit, key)
    if limit is not None:
        _check(name, limit)

    def declare(target: T) -> T:
        setattr(target, _ATTRIBUTE, (*getattr(target, _ATTRIBUTE, ()), rule))
        return target

    return declare


def exempt(reason: str) -> Callable[[T], T]:
    """Take a view (or a blueprint) out of the `anonymous` allowance; `reason` says why it is
    safe to call without limit (it must write nothing). Its declared rules still apply."""
    if not reason.strip():
        raise ConfigError("ratelimit.exempt: say why the route may be called without limit")

    def declare(target: T) -> T:
        setattr(target, _EXEMPT_ATTRIBUTE, reason)
        return target

    return declare


def authenticated() -> None:
    """Note that this request proved who sends it (an API key, a live access token, a client's
    credentials): unless it is refused, it does not spend the `anonymous` allowance. A signed-in
    session counts without this call."""
    setattr(g, _AUTHENTICATED, True)


def spends_allowance(response: Response) -> bool:
    """Whether the request spends the `anonymous` allowance: any refusal, and any answer to a
    client that neither signed in nor proved who it is."""
    if response.status_code >= 400:
        return True
    return g.get("current_session") is None and not g.get(_AUTHENTICATED, False)


ANONYMOUS = Rule("anonymous")
"""The per-address allowance of every route not exempted (setting `ratelimit_anonymous`)."""


def rules_of(target: Any) -> tuple[Rule, ...]:
    """The rules declared on a view function (through functools.partial too) or a blueprint."""
    return tuple(getattr(_unwrapped(target), _ATTRIBUTE, ()))


def exemption_of(target: Any) -> str | None:
    """Why a view or blueprint is exempt from the `anonymous` allowance, or None."""
    return getattr(_unwrapped(target), _EXEMPT_ATTRIBUTE, None)


def _unwrapped(target: Any) -> Any:
    while isinstance(target, partial):
        target = target.func
    return target


@dataclass(frozen=True)
class _SpentLimit:
    """What RateLimitExceeded reads of the limit it names (a Flask-Limiter RuntimeLimit, which
    is not public API)."""

    limit: Any
    error_message: str | None = None


class RateLimits:
    """The app's limiter: Flask-Limiter plus the hub's rules, page and audit policy."""

    window_clock: Callable[[], float] = staticmethod(time.time)
    """What `count` reads to find the current fixed window (tests hold it still so a run that
    crosses a minute boundary counts as one window)."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.settings = settings
        self.routes: dict[str, tuple[Rule, ...]] = {}
        self._ready = False
        self._lock = threading.Lock()
        self.limiter = Limiter(
            key_func=client_address,
            storage_uri=settings.ratelimit_storage,
            strategy="sliding-window-counter",
            key_prefix=settings.ratelimit_key_prefix,
            on_breach=self._breached,
            headers_enabled=False,  # Retry-After only on a 429 (see `retry_after`)
            in_memory_fallback_enabled=True,  # Redis down: each process limits on its own
            swallow_errors=True,  # ... and an error in the limiter never fails a request
        )
        app.before_request(self._collect_rules)  # runs before the limiter's own check
        self.limiter.request_filter(self._unlimited)
        self.limiter.init_app(app)
        # Flask-Limiter logs each refused request at INFO; the access log already has the 429
        # and the audit log the burst, so a flood must not double the log volume.
        self.limiter.logger.setLevel(logging.WARNING)
        for earlier in [f for f in self.limiter.logger.filters if isinstance(f, _StorageDownIsAnError)]:
            self.limiter.logger.removeFilter(earlier)  # one logger per process, one app per process
        self.limiter.logger.addFilter(_StorageDownIsAnError(settings.ratelimit_storage))
        self._check_storage()

    def _check_storage(self) -> None:
        """A shared storage (Redis) must answer at start: once running, a Redis that goes away
        makes each process count on its own (logged at ERROR), which must not be how it starts."""
        if urlsplit(self.settings.ratelimit_storage).scheme.lower() in IN_PROCESS_STORAGE:
            return
        if not self.limiter.storage.check():
            raise ConfigError(
                f"ratelimit_storage: {_redacted(self.settings.ratelimit_storage)} does not answer; "
                "start it, or correct HUB_RATELIMIT_STORAGE"
            )

    def _collect_rules(self) -> None:
        """At the first request, when every route is registered (Flask allows no new ones
        after it): one Flask-Limiter application limit per rule the routes declare."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.routes = _routes_by_endpoint(current_app)
            rules = sorted({rule for rules in self.routes.values() for rule in rules}, key=lambda r: r.name)
            self.limiter.limit_manager.set_application_limits(
                [self._application_limit(rule).bind(self.limiter) for rule in rules]
            )
            self._ready = True

    def _unlimited(self) -> bool:
        """A route no rule covers skips Flask-Limiter altogether: resolving and exempting every
        application limit cost a tenth of a sign-in's CPU on the pages nobody limits."""
        return (request.endpoint or "") not in self.routes

    def _application_limit(self, rule: Rule) -> ApplicationLimit:
        """A Flask-Limiter application limit that only counts the routes declaring `rule`:
        application limits are checked in before_request, ahead of the hub's own hooks."""
        limit_string = rule.limit_string(self.settings)
        _check(f"ratelimit_{rule.name}", limit_string)
        return ApplicationLimit(
            limit_provider=limit_string,
            key_function=rule.key,
            scope=f"rule:{rule.name}",
            exempt_when=partial(self._exempt, rule),
            deduct_when=spends_allowance if rule == ANONYMOUS else None,
        )

    def _exempt(self, rule: Rule) -> bool:
        return rule not in self.routes.get(request.endpoint or "", ())

    def _breached(self, limit: RequestLimit) -> None:
        *_, key, scope = ["", "", *map(str, limit.request_args)]
        rule = next(
            (r for r in self.routes.get(request.endpoint or "", ()) if f"rule:{r.name}" == scope),
            None,
        )
        if rule is not None:
            self._refused(rule, limit, key)

    def spend(self, name: str) -> None:
        """Count this request against the rule `name` from inside a view, for work only the view
        knows it will do (storing a pending sign-in): the same buckets as the routes declaring
        the rule, the same 429 (RateLimitExceeded) and the same one audit event per burst. A
        request whose route declares the rule was counted before the view ran and is not again."""
        if any(rule.name == name for rule in self.routes.get(request.endpoint or "", ())):
            return
        rule = next((r for rules in self.routes.values() for r in rules if r.name == name), Rule(name))
        scope = f"rule:{name}"
        key = rule.key()
        # What Flask-Limiter passes for an application limit, so both count in one bucket.
        args = [self.settings.ratelimit_key_prefix, key, scope] if self.settings.ratelimit_key_prefix else [key, scope]
        for item in sorted(parse_many(rule.limit_string(self.settings))):
            try:
                allowed = self.limiter.limiter.hit(item, *args)
            except Exception:  # as Flask-Limiter's swallow_errors: the storage never fails a request
                log.exception("rate-limit storage failed while counting rule %s", name)
                return
            if not allowed:
                breached = RequestLimit(self.limiter, item, args, True, True)
                self.limiter.context.view_rate_limit = breached  # for retry_after

                # The view may hold a write transaction; the audit event writes in its own, after.
                after_this_request(partial(self._refused_after, rule, breached, key))
                raise RateLimitExceeded(_SpentLimit(item))  # type: ignore[arg-type]

    def _refused_after(self, rule: Rule, limit: RequestLimit, key: str, response: Response) -> Response:
        self._refused(rule, limit, key)
        return response

    def _refused(self, rule: Rule, limit: RequestLimit, key: str) -> None:
        metrics.ratelimit_rejected(rule.name)
        try:
            window = int(limit.limit.get_expiry())
            if self.count(f"breach:{rule.name}", key, window) == 1:
                _audit_breach(rule, limit, window)
        except Exception:  # the 429 must go out even if auditing it failed
            log.exception("could not record a rate-limit breach of rule %s", rule.name)

    def count(self, name: str, key: str, window_seconds: int) -> int:
        """Count one occurrence of (name, key) in the current fixed window and return the
        count so far, from the limiter's storage (so every worker shares it in production)."""
        bucket = int(self.window_clock() // window_seconds)
        storage_key = f"{self.settings.ratelimit_key_prefix}/count/{name}/{key}/{window_seconds}/{bucket}"
        return self.limiter.storage.incr(storage_key, window_seconds)

    def retry_after(self) -> int:
        """Seconds until the breached limit of this request lets a request through again."""
        current = self.limiter.current_limit
        if current is None:
            return 60
        try:
            return max(1, math.ceil(current.window.reset_time - time.time()))
        except Exception:  # the storage went away between the check and the answer
            return int(current.limit.get_expiry())


def init_app(app: Flask, settings: Settings) -> RateLimits:
    """Check the rules of the app's routes in a before_request hook; add it before the hooks
    that read the database. Routes registered later (before the first request) count too."""
    limits = RateLimits(app, settings)
    app.extensions[EXTENSION] = limits
    return limits


def rate_limits() -> RateLimits:
    """The current app's limiter."""
    return current_app.extensions[EXTENSION]


def _audit_breach(rule: Rule, limit: RequestLimit, window: int) -> None:
    """The first refusal of a burst: one failure event naming the rule and its limit."""
    rt = runtime()
    rt.audit.record_failure(
        rt.db,
        "rate_limit",
        reason="rate_limited",
        context=audit_context(),
        details={
            "rule": rule.name,
            "limit": str(limit.limit),
            "window_seconds": window,
            "path": request.path[:200],
        },
    )


def _routes_by_endpoint(app: Flask) -> dict[str, tuple[Rule, ...]]:
    """endpoint -> its rules: `anonymous` unless exempted, those of each enclosing blueprint
    (outermost first), then the view's. "" stands for requests matching no route (404, 405)."""
    routes: dict[str, tuple[Rule, ...]] = {"": (ANONYMOUS,)}
    for endpoint, view in app.view_functions.items():
        parts = endpoint.split(".")[:-1]
        blueprints = [bp for bp in (app.blueprints.get(".".join(parts[: i + 1])) for i in range(len(parts))) if bp]
        default = () if exemption(app, endpoint) is not None else (ANONYMOUS,)
        rules = (*default, *(rule for bp in blueprints for rule in rules_of(bp)), *rules_of(view))
        if rules:
            routes[endpoint] = tuple(dict.fromkeys(rules))
    return routes


class _StorageDownIsAnError(logging.Filter):
    """Flask-Limiter says "storage unreachable - falling back to in-memory" at WARNING; for the
    hub it means every worker now allows the full limit, so it is an ERROR naming the storage."""

    def __init__(self, storage_uri: str) -> None:
        super().__init__()
        self.storage = _redacted(storage_uri)

    def filter(self, record: logging.LogRecord) -> bool:
        if "storage unreachable" in str(record.msg):
            record.levelno, record.levelname = logging.ERROR, "ERROR"
            record.msg = f"rate-limit storage {self.storage} unreachable: each process counts on its own until it answers"
            record.args = ()
        return True


def _redacted(uri: str) -> str:
    """The storage URI without a password (redis://:secret@host)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def exemption(app: Flask, endpoint: str) -> str | None:
    """Why `endpoint` is exempt from the `anonymous` allowance (its view's, an enclosing
    blueprint's, or EXEMPT_ENDPOINTS' reason), or None when it spends it."""
    if endpoint in EXEMPT_ENDPOINTS:
        return EXEMPT_ENDPOINTS[endpoint]
    if endpoint.endswith(".static"):
        return EXEMPT_ENDPOINTS["static"]
    parts = endpoint.split(".")[:-1]
    for i in range(len(parts), 0, -1):
        reason = exemption_of(app.blueprints.get(".".join(parts[:i])))
        if reason is not None:
            return reason
    return exemption_of(app.view_functions.get(endpoint))


def _check(name: str, value: str) -> None:
    try:
        if parse_many(value):
            return
    except ValueError:
        pass
    raise ConfigError(f"{name}: expected limits such as '60 per minute; 600 per hour', got {value!r}")
