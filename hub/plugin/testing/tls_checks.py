"""The conformance check of TLS: the provider signs in over HTTPS when the IdP's certificate is
from a CA the hub's HTTP context trusts, and fails when any one of its connections meets a
certificate from a CA nobody trusts: a plugin that turns verification off (`verify=False`) on
one call, or builds its own session around the hub's, is caught. `ProviderConformance`
inherits it."""

from __future__ import annotations

import ssl
import threading
import warnings
from typing import Any

import pytest
from urllib3.exceptions import InsecureRequestWarning

from hub.plugin.testing.adapters import ConformanceAdapter
from hub.plugin.testing.generic_fake import serve_tls
from hub.plugin.testing.provider_checks import build_provider, pkce_pair
from hub.plugin.testing.tls import kit_authorities
from hub.plugin.testing.unchecked import not_checked
from hub.provider import AuthorizationRequest, Callback

CA_ENVIRONMENT = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
"""Where the hub's HTTP context (hub.http.ProviderSession) reads its CA bundle, in order."""


class CertificateSwitch:
    """Counts the TLS connections a server accepts and serves the untrusted certificate on the
    one armed (`arm(k)`: the k-th connection from now), every other the trusted one."""

    def __init__(self, trusted: ssl.SSLContext, untrusted: ssl.SSLContext) -> None:
        self.trusted, self.untrusted = trusted, untrusted
        self.connections = 0
        self.armed: int | None = None
        self.served_untrusted = False
        """The untrusted certificate was offered and the client completed the handshake."""
        self._lock = threading.Lock()
        trusted.sni_callback = self._choose  # called for every handshake, with or without SNI
        switch = self

        class RecordingSocket(ssl.SSLSocket):
            """Notes a handshake the client completed with the untrusted certificate."""

            def do_handshake(self, block: bool = False) -> None:
                super().do_handshake(block)
                if self.context is switch.untrusted:
                    switch.served_untrusted = True

        trusted.sslsocket_class = RecordingSocket

    def _choose(self, connection: Any, server_name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            self.connections += 1
            if self.armed is not None and self.connections == self.armed:
                connection.context = self.untrusted

    def arm(self, k: int | None) -> None:
        """Serve the untrusted certificate on the k-th connection from now (None: on none)."""
        with self._lock:
            self.armed = None if k is None else self.connections + k
            self.served_untrusted = False

    def disarm(self) -> None:
        """No untrusted certificate from now on; `served_untrusted` says whether one was served."""
        with self._lock:
            self.armed = None


class TlsChecks:
    """Uses the `adapter` fixture of `ProviderConformance` and pytest's `monkeypatch`."""

    def test_the_provider_verifies_the_idps_certificate(
        self, adapter: ConformanceAdapter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        authorities = kit_authorities()
        switch = CertificateSwitch(authorities.trusted.server_context(), authorities.untrusted.server_context())
        if not serve_tls(adapter, switch.trusted, authorities.browser_bundle):
            not_checked(adapter, "serve_tls", "adapter.serve_tls returned False: TLS verification")
        for name in CA_ENVIRONMENT:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authorities.trusted.bundle))  # read once, when the session is built
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)  # verify=False is judged by what it accepts
            try:
                connections = self._complete_sign_in(adapter, switch, None)
            except Exception as error:
                pytest.fail(
                    f"no sign-in over HTTPS with a certificate the hub's HTTP context trusts ({type(error).__name__}: "
                    f"{error}): make every request with context.http, not a session of your own"
                )
            for k in range(1, connections + 1):
                try:
                    self._complete_sign_in(adapter, switch, k)
                except Exception:  # noqa: S112 - refused: that connection verified the certificate
                    continue
                assert not switch.served_untrusted, (
                    f"the provider's connection #{k} of a sign-in accepted a certificate from a CA the hub does not "
                    f"trust: TLS verification is off there (verify=False, or a session of your own); use context.http"
                )

    def _complete_sign_in(self, adapter: ConformanceAdapter, switch: CertificateSwitch, k: int | None) -> int:
        """A sign-in by a fresh provider (no pooled connection), the untrusted certificate on its
        k-th connection after the browser's approval; how many connections it made."""
        provider = build_provider(adapter)
        verifier, challenge = pkce_pair()
        params = adapter.approve(provider.authorization_url(AuthorizationRequest("tls", "tls-nonce", challenge)), adapter.users[0])
        switch.arm(k)
        before = switch.connections
        try:
            provider.complete_sign_in(Callback(params, verifier, "tls-nonce"))
        finally:
            switch.disarm()
        return switch.connections - before


__all__ = ["CA_ENVIRONMENT", "CertificateSwitch", "TlsChecks"]
