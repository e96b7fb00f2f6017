"""Plugin loading: entry points in the `identity_hub` group, the API-version check, the listing.

Built inside create_app()/the CLI (never at module level) so that every app and every test
gets its own manager. A plugin that fails to import, or was built for another plugin API
version, is reported with its distribution name and the hub runs on without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from hub import HUB_API_VERSION, PROJECT_NAME
from hub.core.errors import PluginError
from hub.plugin import hookspecs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    provider_types: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginFailure:
    name: str
    distribution: str
    version: str
    error: str


@dataclass
class Plugins:
    """The plugin manager with what loaded and what did not."""

    manager: pluggy.PluginManager
    loaded: list[PluginInfo] = field(default_factory=list)
    failed: list[PluginFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Installed plugins left out by the `plugins` allow-list."""

    def register(self, plugin: Any, name: str, distribution: str = "", version: str = "") -> None:
        """Register a plugin object (a module or any object with hookimpls) after checking its
        plugin API version. Tests and built-ins use this too, so they face the same checks."""
        declared = getattr(plugin, "hub_api_version", None)
        if declared != HUB_API_VERSION:
            raise PluginError(
                f"plugin {name!r}{_from(distribution, version)} was built for plugin API "
                f"version {declared!r}, but this hub speaks version {HUB_API_VERSION}; "
                f"install a release of the plugin made for this hub"
            )
        self.manager.register(plugin, name=name)
        self.loaded.append(
            PluginInfo(
                name=name,
                distribution=distribution or name,
                version=version,
                provider_types=_provider_type_names(self.manager, plugin),
                hooks=tuple(sorted(h.name for h in self.manager.get_hookcallers(plugin) or [])),
            )
        )

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self.loaded = [info for info in self.loaded if info.name != name]

    @property
    def hook(self) -> Any:
        return self.manager.hook


def new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def load_plugins(allow: tuple[str, ...] | None = None, *, discover: bool = True) -> Plugins:
    """Load every `identity_hub` entry point (only those in `allow`, when given)."""
    plugins = Plugins(new_manager())
    if not discover:
        return plugins
    for entry_point in _unique_entry_points():
        if allow is not None and entry_point.name not in allow:
            plugins.skipped.append(entry_point.name)
            continue
        _load_one(plugins, entry_point)
    return plugins


def _unique_entry_points() -> list[EntryPoint]:
    """Entry points once each: editable installs can list the same one twice."""
    seen: dict[tuple[str, str], EntryPoint] = {}
    for entry_point in entry_points(group=PROJECT_NAME):
        seen.setdefault((entry_point.name, entry_point.value), entry_point)
    return sorted(seen.values(), key=lambda ep: ep.name)


def _load_one(plugins: Plugins, entry_point: EntryPoint) -> None:
    distribution = entry_point.dist.name if entry_point.dist else entry_point.value
    version = entry_point.dist.version if entry_point.dist else ""
    try:
        module = entry_point.load()
        plugins.register(module, entry_point.name, distribution, version)
    except Exception as exc:  # a broken plugin must not take the hub down
        message = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
        log.error("plugin %s (%s %s) not loaded: %s", entry_point.name, distribution, version, message)
        plugins.failed.append(PluginFailure(entry_point.name, distribution, version, message))


def _provider_type_names(manager: pluggy.PluginManager, plugin: ModuleType | Any) -> tuple[str, ...]:
    implementation = getattr(plugin, "hub_provider_types", None)
    if implementation is None:
        return ()
    try:
        return tuple(sorted(cls.type_name for cls in implementation()))
    except Exception:  # listing must not fail on a broken plugin; the registry reports it
        return ()


def _from(distribution: str, version: str) -> str:
    return f" (from {distribution} {version})".rstrip() if distribution else ""
