"""Realistic plugin mistakes (issue 20), each a small edit of tests/kitsample.py's source, and a
runner that puts a mutant through the conformance kit's checks in this process (no pytest per
mutant): the measure of what the kit catches (tests/unit/test_kit_mutations.py)."""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.plugin.testing.unchecked import RUN
from hub.plugin.testing.watch import watching
from hub.testing.authserver import FakeAuthorizationServer
from hub.testing.conformance import FakeServerAdapter, ProviderConformance, build_provider
from tests.kitplugin import gitlab_profile

SOURCE = Path(__file__).with_name("kitsample.py").read_text()


@dataclass(frozen=True)
class Mutant:
    """One mistake: `old` in the sample's source becomes `new`."""

    name: str
    old: str
    new: str

    def source(self) -> str:
        assert SOURCE.count(self.old) == 1, f"{self.name}: the edit does not apply once"
        return SOURCE.replace(self.old, self.new)


PROFILE_GET = "self.profile_endpoint(), headers={"
MUTANTS = (
    Mutant("a blocking state other than `blocked` is not refused",
           "if profile.get(\"state\") not in ACTIVE_STATES:", "if profile.get(\"state\") == \"blocked\":"),
    Mutant("TLS verification turned off on the profile call",
           "self.profile_endpoint(), headers={\"Authorization\": f\"Bearer {access_token}\", \"Accept\": \"application/json\"}",
           "self.profile_endpoint(), verify=False, headers={\"Authorization\": f\"Bearer {access_token}\", \"Accept\": \"application/json\"}"),
    Mutant("its own session around the hub's (no timeouts, no CA bundle)",
           "response = self.context.http.get(", "response = __import__('requests').get("),
    Mutant("the client secret logged at DEBUG",
           "log.debug(\"loading settings of %s\", self.id)", "log.debug(\"loading settings of %s: %s\", self.id, dict(settings))"),
    Mutant("the user's access token logged at INFO",
           "log.info(\"fetching the profile from %s\", self.profile_endpoint())",
           "log.info(\"fetching the profile with %s\", access_token)"),
    Mutant("the secret inside a settings error for a setting the adapter's table does not list",
           "scopes=scopes_setting(settings.get(\"scopes\", [\"read_user\"]), key(\"scopes\"), '[\"read_user\"]'),",
           "scopes=tuple(settings.get(\"scopes\", [\"read_user\"])) if isinstance(settings.get(\"scopes\", []), list) "
           "else _raise(f\"{key('scopes')}: a list of scopes, in {dict(settings)}\"),"),
    Mutant("a raw JSON decoding error escapes on an HTML answer",
           "return read_json(response, \"profile endpoint\")", "return response.json()"),
    Mutant("a failing revocation reported as done",
           "raise ProviderUnavailable(f\"{self.provider_label} did not revoke the {hint} (HTTP {response.status_code}).\")",
           "log.warning(\"revocation answered HTTP %s\", response.status_code)"),
    Mutant("a profile 5xx mapped to the wrong error",
           "raise ProviderUnavailable(f\"{self.provider_label}'s profile endpoint answered HTTP {response.status_code}.\")",
           "raise TokenRejected(f\"{self.provider_label}'s profile endpoint answered HTTP {response.status_code}.\")"),
    Mutant("a profile timeout mapped to the wrong error",
           "        response = self.context.http.get(\n",
           "        response = _no_timeout(self.context.http.get)(\n"),
    Mutant("the username used as the subject",
           "subject = subject_from(profile.get(\"id\"), self.provider_label)",
           "subject = subject_from(profile.get(\"username\"), self.provider_label)"),
    Mutant("email_verified claimed for every address",
           "email_verified=profile.get(\"email_verified\") is True,", "email_verified=bool(profile.get(\"email\")),"),
)
"""Each bullet of issue 20, and the issue-10 mistakes the kit already caught."""

HELPERS = '''
def _raise(message):
    from hub.errors import ConfigError
    raise ConfigError(message)


def _no_timeout(get):
    def call(*args, **kwargs):
        try:
            return get(*args, **kwargs)
        except ProviderUnavailable as error:
            raise TokenRejected("the profile request failed") from error
    return call
'''


def load(source: str) -> types.ModuleType:
    """The sample plugin module built from `source` (a fresh module each time)."""
    module = types.ModuleType("hub_sample_under_test")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source + HELPERS, "kitsample.py", "exec"), module.__dict__)  # noqa: S102 - the test's own source
    finally:
        del sys.modules[module.__name__]
    return module


class SampleAdapter(FakeServerAdapter):
    plugin_name = "samplelab"

    def __init__(self, server: FakeAuthorizationServer, plugin: types.ModuleType) -> None:
        super().__init__(server)
        self.plugin = plugin

    def provider_table(self, redirect_uri: str) -> dict[str, Any]:
        return {"type": "samplelab", "base_url": self.server.url, "client_id": self.server.client_id,
                "client_secret": self.server.client_secret}  # fmt: skip


def sample_server() -> FakeAuthorizationServer:
    return FakeAuthorizationServer(openid=False, profile_path="/api/v4/user", profile=gitlab_profile, slow_seconds=0.8)


def kit_checks() -> list[tuple[str, Callable[..., Any], Any]]:
    """Every provider-level check of the kit with its parameter, timeouts last (they are slow)."""
    checks = []
    for name in sorted(n for n in dir(ProviderConformance) if n.startswith("test_")):
        function = getattr(ProviderConformance, name)
        if "hub" in inspect.signature(function).parameters:
            continue  # checks of the hub around the provider: no plugin mistake shows there first
        kinds: list[Any] = [None]
        for mark in getattr(function, "pytestmark", []):
            if mark.name == "parametrize":
                kinds = list(mark.args[1])
        checks += [(name, function, kind) for kind in kinds]
    return sorted(checks, key=lambda check: check[2] == "timeout")


@contextmanager
def strict_mode() -> Iterator[None]:
    before, RUN.strict = RUN.strict, True
    try:
        yield
    finally:
        RUN.strict = before


def run_check(plugin: types.ModuleType, name: str, function: Callable[..., Any], kind: Any) -> str | None:
    """Run one check as pytest would (fresh fake IdP, the kit's watch); what it caught, or None."""
    with sample_server() as server, pytest.MonkeyPatch.context() as monkeypatch:
        adapter = SampleAdapter(server, plugin)
        RUN.current_check = name
        try:
            with watching(adapter):
                arguments = {"adapter": adapter, "build": lambda **o: build_provider(adapter, **o),
                             "monkeypatch": monkeypatch, "kind": kind}  # fmt: skip
                wanted = inspect.signature(function).parameters
                if "provider" in wanted:
                    arguments["provider"] = build_provider(adapter)
                function(ProviderConformance(), **{k: v for k, v in arguments.items() if k in wanted})
        except pytest.skip.Exception:
            return None
        except (Exception, pytest.fail.Exception) as caught:  # noqa: BLE001 - any failure is a catch
            return f"{name}[{kind}]: {type(caught).__name__}: {str(caught).splitlines()[0][:160] if str(caught) else ''}"
    return None


def first_catch(plugin: types.ModuleType) -> str | None:
    """The first kit check that fails for `plugin`, in strict mode; None when every check passes."""
    with strict_mode():
        for name, function, kind in kit_checks():
            caught = run_check(plugin, name, function, kind)
            if caught is not None:
                return caught
    return None
