"""Outbound HTTP for providers: every call has a timeout and at most one bounded retry, and is
measured (hub.core.metrics) by provider and endpoint.

Providers use the session from ProviderContext.http for every request so that unit tests
can mock at the HTTP layer (`responses`) and nothing ever waits without a limit.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any

import requests
from requests.cookies import RequestsCookieJar
from requests.sessions import merge_hooks, merge_setting
from requests.structures import CaseInsensitiveDict
from requests.utils import address_in_network, is_ipv4_address, is_valid_cidr

from hub.core import metrics
from hub.core.errors import ProviderUnavailable

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
    - A timeout raises `hub.core.errors.ProviderUnavailable`, and so does a connection error (DNS,
      refused, reset): never requests' own exceptions.
    - An HTTP error status is *not* raised: the response comes back, and the plugin decides
      (5xx is usually ProviderUnavailable, 401 from a token endpoint ProviderMisconfigured).
    - One retry, only after 429 or 503, waiting `Retry-After` when it is at most
      `MAX_RETRY_AFTER` seconds (0.5 s when the header is absent); a longer Retry-After is
      not waited for and the 429/503 response is returned. POSTs are retried too: a token
      endpoint that answers 429/503 has not redeemed the code.
    - No cookies between calls: one session serves every person's sign-in in a worker, so
      a cookie a provider sets is readable on that response (`response.cookies`) and kept
      across that call's redirects, but never sent on a later call. A call that needs a
      cookie passes `cookies=`; setting one on `session.cookies` raises TypeError.
    - Proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`) and the CA bundle
      (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, `SSL_CERT_FILE`, in that order) come from the
      environment as it was when the session was built; `~/.netrc` is not read. A call's
      own `verify=`, `cert=` or `proxies=` wins over the environment.
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
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self.headers["User-Agent"] = "identity-hub"
        self.cookies = _NoCookieJar()
        # The environment is read here, once, not by requests on every call (it walks the
        # whole of os.environ, and checks ~/.netrc, each time).
        self.trust_env = False
        self._environment = _Environment.read()

    def request(  # type: ignore[override]
        self,
        method: str | bytes,
        url: str | bytes,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Mapping[str, str] | None = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: bool | str | None = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        """Send like requests.Session.request (same arguments), with the rules of the class
        docstring: a timeout, ProviderUnavailable for timeouts and connection errors, one retry
        on 429/503, no cookies but the call's own."""
        target = url.decode() if isinstance(url, bytes) else url
        endpoint = endpoint_name(method, target)

        def send() -> requests.Response:
            # Prepared afresh for the retry, as requests would: an auth that signs the request
            # (a private_key_jwt assertion with its own jti) signs it again.
            prepared = requests.PreparedRequest()
            prepared.prepare(
                method=method,  # type: ignore[arg-type]
                url=target,
                headers=merge_setting(headers, self.headers, dict_class=CaseInsensitiveDict),
                files=files,
                data=data or {},
                json=json,
                params=merge_setting(params or {}, self.params),
                auth=merge_setting(auth, self.auth),
                cookies=cookies,
                hooks=merge_hooks(hooks, self.hooks),
            )
            return self.send(
                prepared,
                timeout=self.timeout if timeout is None else timeout,
                allow_redirects=allow_redirects,
                proxies={**self._environment.proxies_for(target), **self.proxies, **(proxies or {})},
                stream=self.stream if stream is None else stream,
                verify=self._environment.verify(self.verify if verify is None else verify),
                cert=self.cert if cert is None else cert,
            )

        started = time.perf_counter()
        try:
            response = send()
            if response.status_code in RETRY_STATUSES:
                delay = retry_delay(response, self.max_retry_after)
                if delay is not None:
                    self._sleep(delay)
                    response = send()
        except requests.Timeout as exc:
            metrics.provider_call(self.provider_id, endpoint, time.perf_counter() - started, "timeout")
            raise ProviderUnavailable(f"The identity provider did not answer in time ({_host(target)}).") from exc
        except requests.ConnectionError as exc:
            metrics.provider_call(self.provider_id, endpoint, time.perf_counter() - started, "unreachable")
            raise ProviderUnavailable(f"The identity provider could not be reached ({_host(target)}).") from exc
        status = response.status_code
        error = "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else None
        metrics.provider_call(self.provider_id, endpoint, time.perf_counter() - started, error)
        return response

    def rebuild_proxies(self, prepared_request: requests.PreparedRequest, proxies: Any) -> dict[str, str]:
        """On a redirect, the new host's environment proxy fills in (NO_PROXY applied to it),
        as requests does, from the environment read when the session was built."""
        redirected = self._environment.proxies_for(prepared_request.url or "")
        return super().rebuild_proxies(prepared_request, {**redirected, **(proxies or {})})


MAX_CACHED_ORIGINS = 64
"""No longer used (the environment is read once per session, not per origin); kept because a
name of the plugin API is never removed."""


class _RefuseEveryCookie(DefaultCookiePolicy):
    def set_ok(self, cookie: Cookie, request: Any) -> bool:
        return False


class _NoCookieJar(RequestsCookieJar):
    """The session's jar, which requests fills from every response and sends on every later
    request: refusing every cookie keeps one person's provider cookies out of another
    person's calls."""

    def __init__(self) -> None:
        super().__init__(policy=_RefuseEveryCookie())

    def set_cookie(self, cookie: Cookie, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "A provider session keeps no cookies: it is shared by every person's sign-in. "
            "Pass cookies= to the call that needs them."
        )


@dataclass(frozen=True)
class _Environment:
    """The proxy and CA-bundle variables of the environment, read once: what requests would
    otherwise read on every call, with the same meaning."""

    proxies: Mapping[str, str]
    """Scheme (`http`, `https`, `all`) to proxy URL, from the `*_proxy` variables."""
    no_proxy: str
    ca_bundle: str | None

    @classmethod
    def read(cls) -> _Environment:
        proxies = urllib.request.getproxies()
        no_proxy = proxies.pop("no", "")
        ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
        )
        return cls(proxies, no_proxy, ca_bundle or None)

    def proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for `url`: none when its host is in NO_PROXY (suffixes,
        `*`, and for IPv4 addresses CIDR ranges too, as requests matches them)."""
        if not self.proxies:
            return {}
        parts = requests.utils.urlparse(url)
        host = parts.hostname
        if host is None:
            return {}
        if is_ipv4_address(host) and any(
            is_valid_cidr(entry) and address_in_network(host, entry) for entry in self.no_proxy.replace(" ", "").split(",")
        ):
            return {}
        host_and_port = f"{host}:{parts.port}" if parts.port else host
        if urllib.request.proxy_bypass_environment(host_and_port, {"no": self.no_proxy}):
            return {}
        return dict(self.proxies)

    def verify(self, verify: bool | str) -> bool | str:
        """A call or session that only says "verify" verifies with the environment's bundle,
        as requests does; a path, or False, is kept."""
        return self.ca_bundle if verify is True and self.ca_bundle else verify


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
