"""The plugin contract: documented hooks, API version, discovery, allow-list, failures, registry."""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint

import pytest

from hub import HUB_API_VERSION, hookimpl
from hub.core.config import load_settings
from hub.errors import ConfigError, PluginError
from hub.plugin import hookspecs
from hub.plugin.manager import load_plugins
from hub.upstream.registry import build_registry
from tests import fakeidp


def hook_functions():
    return [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("hub_")]


def test_every_hook_is_documented_with_its_parameters():
    hooks = hook_functions()
    assert {h.__name__ for h in hooks} >= {
        "hub_provider_types",
        "hub_default_providers",
        "hub_signin_policy",
        "hub_audit_event",
        "hub_cli_commands",
    }
    for hook in hooks:
        doc = inspect.getdoc(hook) or ""
        assert len(doc) > 40, f"{hook.__name__} has no documentation"
        for parameter in inspect.signature(hook).parameters:
            assert f":param {parameter}:" in doc, f"{hook.__name__} does not document {parameter}"


def test_plugin_for_another_api_version_is_refused_with_its_name():
    class Old:
        hub_api_version = HUB_API_VERSION + 1

    plugins = load_plugins(discover=False)
    with pytest.raises(PluginError, match=r"plugin 'old' \(from hub-old 0.1\) was built for plugin API version 2"):
        plugins.register(Old(), "old", "hub-old", "0.1")


def fake_entry_points(*items: tuple[str, str]):
    return lambda group: [EntryPoint(name, value, group) for name, value in items]


def test_broken_plugin_is_reported_and_the_rest_load(monkeypatch):
    monkeypatch.setattr(
        "hub.plugin.manager.entry_points",
        fake_entry_points(("broken", "no_such_module_xyz"), ("fake", "tests.fakeidp")),
    )
    plugins = load_plugins()
    assert [p.name for p in plugins.loaded] == ["fake"]
    assert plugins.loaded[0].provider_types == ("fake",)
    assert [f.name for f in plugins.failed] == ["broken"]
    assert "ModuleNotFoundError" in plugins.failed[0].error


def test_duplicate_entry_points_load_once(monkeypatch):
    monkeypatch.setattr("hub.plugin.manager.entry_points", fake_entry_points(("fake", "tests.fakeidp"), ("fake", "tests.fakeidp")))
    assert [p.name for p in load_plugins().loaded] == ["fake"]


def test_allow_list_limits_which_plugins_load(monkeypatch):
    monkeypatch.setattr("hub.plugin.manager.entry_points", fake_entry_points(("fake", "tests.fakeidp"), ("other", "tests.fakeidp")))
    plugins = load_plugins(("other",))
    assert [p.name for p in plugins.loaded] == ["other"]
    assert plugins.skipped == ["fake"]


def settings_with(tmp_path, providers):
    return load_settings(environ={}, overrides={"instance_path": str(tmp_path), "providers": providers})


def test_two_providers_of_one_type_run_side_by_side(tmp_path, plugins):
    registry = build_registry(
        settings_with(
            tmp_path,
            {
                "contoso": {"type": "fake", "client_id": "a", "client_secret": "x"},
                "fabrikam": {"type": "fake", "client_id": "b", "client_secret": "y", "redirect_uri": "http://localhost:5001/cb"},
            },
        ),
        plugins,
    )
    assert set(registry.providers) == {"contoso", "fabrikam"}
    assert registry.providers["contoso"].redirect_uri == "http://localhost:5001/auth/contoso/callback"
    assert registry.callback_paths() == {"/auth/contoso/callback": "contoso", "/cb": "fabrikam"}
    assert registry.providers["contoso"].settings == {"client_id": "a", "client_secret": "x"}


def test_provider_of_an_uninstalled_type_is_disabled_not_fatal(tmp_path, plugins):
    registry = build_registry(settings_with(tmp_path, {"gh": {"type": "github"}}), plugins)
    assert registry.providers == {}
    assert "no installed plugin provides type 'github'" in registry.unavailable["gh"]


def test_two_providers_sharing_a_callback_path_is_an_error(tmp_path, plugins):
    uri = "http://localhost:5001/callback"
    with pytest.raises(ConfigError, match="callback path /callback is already used"):
        build_registry(
            settings_with(tmp_path, {"a": {"type": "fake", "redirect_uri": uri}, "b": {"type": "fake", "redirect_uri": uri}}),
            plugins,
        )


def test_two_plugins_offering_one_type_name_is_an_error(tmp_path, plugins):
    class Copy:
        hub_api_version = 1

        @hookimpl
        def hub_provider_types(self):
            return [type("Other", (fakeidp.FakeProvider,), {})]

    plugins.register(Copy(), "copy")
    with pytest.raises(ConfigError, match="provider type 'fake' is offered by both"):
        build_registry(settings_with(tmp_path, {}), plugins)


def test_default_providers_come_from_plugins_when_none_configured(tmp_path, plugins):
    class Defaults:
        hub_api_version = 1

        @hookimpl
        def hub_default_providers(self, environ):
            if "FAKE_CLIENT" not in environ:
                return []
            return [{"id": "fromenv", "type": "fake", "client_id": environ["FAKE_CLIENT"], "client_secret": "z"}]

    plugins.register(Defaults(), "defaults")
    settings = load_settings(environ={"FAKE_CLIENT": "hub"}, overrides={"instance_path": str(tmp_path)})
    assert list(build_registry(settings, plugins).providers) == ["fromenv"]


def test_audit_observers_see_committed_events(app, client, idp, plugins):
    from tests.conftest import sign_in

    seen = []

    class Observer:
        hub_api_version = 1

        @hookimpl
        def hub_audit_event(self, event):
            seen.append((event.type, event.outcome))

    plugins.register(Observer(), "observer")
    sign_in(client, idp, "alice")
    assert seen == [("signin", "success")]


def test_failing_audit_observer_never_breaks_a_sign_in(app, client, idp, plugins):
    from tests.conftest import sign_in

    class Broken:
        hub_api_version = 1

        @hookimpl
        def hub_audit_event(self, event):
            raise RuntimeError("observer down")

    plugins.register(Broken(), "broken")
    assert sign_in(client, idp, "alice").status_code == 302


def test_provider_without_a_type_is_refused_naming_the_setting(tmp_path, plugins):
    settings = load_settings(environ={"HUB_PROVIDERS__BAD__NAME": "x"}, overrides={"instance_path": str(tmp_path)})
    with pytest.raises(ConfigError, match='providers.bad.type: expected a provider type such as "entra"'):
        build_registry(settings, plugins)


def test_environment_overlays_a_provider_a_plugin_offers(tmp_path, plugins):
    class Defaults:
        hub_api_version = 1

        @hookimpl
        def hub_default_providers(self, environ):
            return [{"id": "fromenv", "type": "fake", "client_id": "hub", "client_secret": "z"}]

    plugins.register(Defaults(), "defaults")
    settings = load_settings(environ={"HUB_PROVIDERS__FROMENV__CLIENT_SECRET": "overridden"}, overrides={"instance_path": str(tmp_path)})
    provider = build_registry(settings, plugins).providers["fromenv"]
    assert provider.settings == {"client_id": "hub", "client_secret": "overridden"}


def hub_imports(path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        found.update(name for name in names if name == "hub" or name.startswith("hub."))
    return found


def test_bundled_plugins_import_only_what_docs_architecture_allows():
    """docs/architecture.md: provider types import the plugin API only; test doubles add
    hub.serving and hub.testing; provider packages hold nothing else (no demo). `hub demo`, a
    package of its own (demo/hub_demo), alone builds a whole hub (and registers its example
    applications); the example application imports nothing of the hub."""
    from pathlib import Path

    plugin_api = {"hub", "hub.provider", "hub.oidc", "hub.http", "hub.errors", "hub.routes"}
    kit = {"app", "conformance", "authserver", "people", "grants", "misbehaviour", "adapters", "provider_checks", "keys"}
    doubles = plugin_api | {"hub.serving", "hub.testing"} | {f"hub.testing.{name}" for name in kit}
    demo = doubles | {"hub.app", "hub.core.config", "hub.plugin.manager", "hub.cli.commands", "hub.cli.seed", "hub.core.db", "hub.issuer",
                      "hub.actions", "hub.console.provisioning"}
    root = Path(__file__).resolve().parents[2]
    sources = sorted(root.glob("providers/*/hub_*/**/*.py"))
    demo_sources = sorted(root.glob("demo/hub_demo/**/*.py"))
    assert len(sources) > 15 and len(demo_sources) >= 3
    problems = []
    for path in [*sources, *demo_sources]:
        if path.name == "example_app.py":
            allowed: set[str] = set()
        elif path in demo_sources:
            allowed = demo
        elif path.name in {"fake.py", "testing.py"} or "emulator" in path.parts:
            allowed = doubles
        else:
            allowed = plugin_api
        extra = {name for name in hub_imports(path) if name not in allowed and not name.startswith("hub.oidc.")}
        if extra:
            problems.append(f"{path.relative_to(root)} imports {sorted(extra)}")
    assert problems == []


def test_a_provider_plugin_is_only_a_provider_and_the_demo_a_plugin_of_its_own():
    """`hub demo` and its example application live in hub-demo (entry point `demo`), not in
    hub-provider-entra: the Entra plugin contributes its provider type and `.env` defaults only,
    and the core finds the demo command through `hub_cli_commands`, by no name of its own."""
    import importlib.util

    from hub.cli.main import build_cli

    plugins = load_plugins()
    by_name = {info.name: info for info in plugins.loaded}
    assert by_name["entra"].distribution == "hub-provider-entra"
    assert by_name["entra"].hooks == ("hub_default_providers", "hub_provider_types")
    assert by_name["demo"].distribution == "hub-demo"
    assert by_name["demo"].hooks == ("hub_cli_commands",) and by_name["demo"].provider_types == ()
    assert importlib.util.find_spec("hub_entra.demo") is None
    assert importlib.util.find_spec("hub_entra.example_app") is None
    assert build_cli(plugins).commands["demo"].callback.__module__ == "hub_demo.command"
