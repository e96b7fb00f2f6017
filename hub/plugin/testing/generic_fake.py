"""What the kit does through the generic fake (`FakeAuthorizationServer`) by itself, when the
adapter holds one but does not implement a member: misbehave at an endpoint (the adapter only
maps endpoint names, `ConformanceAdapter.endpoint_names`), count revocations, list the codes and
tokens issued, serve HTTPS. So a plugin tested against the fake gets these checks for free."""

from __future__ import annotations

import ssl
from pathlib import Path

from hub.plugin.testing.adapters import ConformanceAdapter
from hub.plugin.testing.authserver import KINDS, FakeAuthorizationServer


def generic_fake(adapter: ConformanceAdapter) -> FakeAuthorizationServer | None:
    """The generic fake the adapter drives (any attribute holding one), or None."""
    return next((value for value in vars(adapter).values() if isinstance(value, FakeAuthorizationServer)), None)


def misbehave_at(adapter: ConformanceAdapter, endpoint: str, kind: str) -> bool:
    """`adapter.misbehave_at`, else the generic fake misbehaving at the mapped endpoint."""
    if adapter.misbehave_at(endpoint, kind):
        return True
    fake = generic_fake(adapter)
    if fake is None or kind not in KINDS:
        return False
    fake.misbehave(dict(adapter.endpoint_names).get(endpoint, endpoint), kind)
    return True


def misbehave(adapter: ConformanceAdapter, kind: str) -> bool:
    """`adapter.misbehave` (the next token-endpoint answer), else the generic fake's."""
    return adapter.misbehave(kind) or (generic_fake(adapter) is not None and misbehave_at(adapter, "token", kind))


def revocation_calls(adapter: ConformanceAdapter) -> int | None:
    calls = adapter.revocation_calls()
    fake = generic_fake(adapter)
    if calls is None and fake is not None:
        return fake.requests[dict(adapter.endpoint_names).get("revoke", "revoke")]
    return calls


def issued_secrets(adapter: ConformanceAdapter) -> list[str]:
    issued = list(adapter.issued_secrets())
    fake = generic_fake(adapter)
    if fake is not None:
        with fake.grants.lock:
            issued += fake.grants.issued
    return issued


def serve_tls(adapter: ConformanceAdapter, context: ssl.SSLContext, browser_bundle: Path) -> bool:
    if adapter.serve_tls(context, browser_bundle):
        return True
    fake = generic_fake(adapter)
    if fake is None:
        return False
    fake.serve_tls(context, browser_bundle)
    return True


__all__ = ["generic_fake", "issued_secrets", "misbehave", "misbehave_at", "revocation_calls", "serve_tls"]
