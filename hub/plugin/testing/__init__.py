"""Test kit for provider plugins (install `identity-hub[testing]`): a throwaway hub app
(`hub.testing.app`), a generic fake OAuth 2.0 / OpenID Connect server on 127.0.0.1
(`hub.testing.authserver`) and the provider conformance suite (`hub.testing.conformance`).
The fake server is built from generic parts other fakes reuse: `people`, `grants` (codes and
tokens), `misbehaviour` (switches). Imported only by tests and test doubles."""

from importlib import import_module as _import_module
from importlib.util import find_spec as _find_spec
from types import ModuleType as _ModuleType


def __getattr__(name: str) -> _ModuleType:
    """`hub.testing.<module>` without importing it first, as when every module was imported eagerly."""
    if name.startswith("_") or _find_spec(f"{__name__}.{name}") is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _import_module(f"{__name__}.{name}")
