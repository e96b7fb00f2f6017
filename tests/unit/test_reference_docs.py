"""docs/reference.md is generated from the code (hub.plugin.apidoc), so it cannot drift: this test
fails when a docstring, signature, error status or constant changed without regenerating it."""

from __future__ import annotations

import difflib
from pathlib import Path

from hub.plugin import apidoc

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def test_the_reference_is_what_the_code_generates():
    committed = REFERENCE.read_text(encoding="utf-8")
    generated = apidoc.generate()
    diff = "".join(difflib.unified_diff(committed.splitlines(True), generated.splitlines(True), "docs/reference.md", "generated", n=1))
    assert committed == generated, f"regenerate with `uv run python -m hub.plugin.apidoc > docs/reference.md`:\n{diff[:3000]}"


def test_the_reference_covers_every_module_a_plugin_imports_and_every_error():
    from hub.core import errors

    text = REFERENCE.read_text(encoding="utf-8")
    for module in ("hub.provider", "hub.errors", "hub.http", "hub.oidc", "hub.testing.conformance", "hub.testing.authserver"):
        assert f"## `{module}`" in text
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.HubError):
            assert f"| `{cls.__name__}` | " in text and f"| {cls.status} | `{cls.code}` |" in text
    for name in ("OAuth2Provider", "OpenIdConnectProvider", "TokenClient", "ProviderSession", "FakeAuthorizationServer", "ConformanceAdapter"):
        assert f"### `{name}`" in text, name
    assert "POSTs are retried too" in text and "ProviderUnavailable" in text
