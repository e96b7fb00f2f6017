"""Configured providers: provider tables from the settings matched to installed provider types.

A provider is a configured instance of a type, with its own id, so two Entra tenants or several
OIDC providers run side by side. A provider whose type is not installed is reported and left
out (its linked accounts stay in the database, shown as belonging to an absent provider).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hub.core.config import Settings, check_provider_table
from hub.core.errors import ConfigError
from hub.plugin.manager import Plugins
from hub.upstream.http import ProviderSession
from hub.upstream.provider import CORE_SETTINGS, ProviderContext, ProviderType

log = logging.getLogger(__name__)

CORE_KEYS = CORE_SETTINGS - {"button_label"}
"""Passed to the provider by other means; `button_label` stays in its settings."""


@dataclass
class Registry:
    providers: dict[str, ProviderType] = field(default_factory=dict)
    types: dict[str, type[ProviderType]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    """provider id -> why it is not running (for example its plugin is not installed)."""

    def get(self, provider_id: str) -> ProviderType | None:
        return self.providers.get(provider_id)

    def callback_paths(self) -> dict[str, str]:
        """Callback URL path -> provider id, for routes beyond /auth/<id>/callback."""
        return {urlsplit(p.redirect_uri).path: pid for pid, p in self.providers.items()}


def provider_types(plugins: Plugins) -> dict[str, type[ProviderType]]:
    types: dict[str, type[ProviderType]] = {}
    owners: dict[str, str] = {}
    for impl in plugins.manager.hook.hub_provider_types.get_hookimpls():
        for cls in impl.function() or []:
            name = getattr(cls, "type_name", None)
            if not isinstance(name, str) or not isinstance(cls, type) or not issubclass(cls, ProviderType):
                raise ConfigError(
                    f"plugin {impl.plugin_name!r} returned {cls!r} from hub_provider_types; "
                    f"expected hub.upstream.provider.ProviderType subclasses with a type_name"
                )
            if name in types and types[name] is not cls:
                raise ConfigError(
                    f"provider type {name!r} is offered by both {owners[name]!r} and "
                    f"{impl.plugin_name!r}; uninstall one or limit plugins with HUB_PLUGINS"
                )
            types[name], owners[name] = cls, impl.plugin_name
    return types


def provider_tables(settings: Settings, plugins: Plugins) -> dict[str, dict[str, Any]]:
    """The configured provider tables. When none names a type, plugins may offer providers from
    conventional variables (the Entra tutorial's .env); a table without a type then overlays
    the offered provider of the same id (for example HUB_PROVIDERS__ENTRA__AUTHORITY_HOST)."""
    tables = {provider_id: dict(table) for provider_id, table in settings.providers.items()}
    if not any("type" in table for table in tables.values()):
        for offered in plugins.hook.hub_default_providers(environ=settings.environ):
            for table in offered or []:
                table = dict(table)
                provider_id = str(table.pop("id", ""))
                tables[provider_id] = {**table, **tables.get(provider_id, {})}
    for provider_id, table in tables.items():
        if not isinstance(table.get("type"), str) or not table["type"]:
            raise ConfigError(f"providers.{provider_id}.type: expected a provider type such as \"entra\"")
        check_provider_table(provider_id, table)
    return tables


def build_registry(settings: Settings, plugins: Plugins) -> Registry:
    """Instantiate every configured provider. A bad setting stops the hub (ConfigError)."""
    registry = Registry(types=provider_types(plugins))
    for provider_id, table in provider_tables(settings, plugins).items():
        cls = registry.types.get(table["type"])
        if cls is None:
            reason = (
                f"providers.{provider_id}.type: no installed plugin provides type "
                f"{table['type']!r} (installed types: {', '.join(sorted(registry.types)) or 'none'})"
            )
            log.error("provider %s disabled: %s", provider_id, reason)
            registry.unavailable[provider_id] = reason
            continue
        registry.providers[provider_id] = _instantiate(cls, provider_id, table, settings)
    paths: dict[str, str] = {}
    for path, provider_id in ((urlsplit(p.redirect_uri).path, pid) for pid, p in registry.providers.items()):
        if path in paths:
            raise ConfigError(
                f"providers.{provider_id}.redirect_uri: the callback path {path} is already "
                f"used by provider {paths[path]!r}; each provider needs its own redirect URI"
            )
        paths[path] = provider_id
    return registry


def _instantiate(
    cls: type[ProviderType], provider_id: str, table: Mapping[str, Any], settings: Settings
) -> ProviderType:
    redirect_uri = str(table.get("redirect_uri") or f"{settings.base_url.rstrip('/')}/auth/{provider_id}/callback")
    context = ProviderContext(redirect_uri=redirect_uri, http=ProviderSession(provider_id=provider_id), production=settings.production)
    name = str(table.get("name") or provider_id)
    own_settings = {k: v for k, v in table.items() if k not in CORE_KEYS}
    return cls(provider_id, name, own_settings, context)
