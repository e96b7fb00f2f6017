"""Plugin routes: the blueprints of the `hub_register_routes` hook, mounted under
`/plugins/<plugin name>/`, and the helpers their views use.

The model is Datasette's `register_routes`: a plugin adds pages or endpoints (a SCIM server, a
webhook receiver) without the core knowing it by name. The prefix is the plugin's entry-point
name, so two plugins can never claim each other's paths or the core's. Mounted routes run
inside the hub's request cycle, so they get its rate limit, CSRF check, security headers,
error pages, session lookup and audit context without asking; only an explicit `server_to_server` view
skips the browser CSRF check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, request

from hub.core.db import write_transaction
from hub.core.errors import ConfigError
from hub.plugin.manager import Plugins
from hub.web import ratelimit

# Re-exported for plugin views: the same guards and page rendering the hub's own pages use.
from hub.web.request import admin_required, audit_context, current_session, login_required, render, runtime

F = TypeVar("F", bound=Callable[..., Any])

PREFIX = "/plugins"
PLUGIN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
EXTENSION = "hub_plugin_routes"
"""app.extensions key: blueprint name -> plugin name, for `record_event`."""

__all__ = [
    "PREFIX",
    "admin_required",
    "audit_context",
    "current_user_id",
    "login_required",
    "mount",
    "record_event",
    "render",
    "server_to_server",
]


def mount(app: Flask, plugins: Plugins, rate_limit: str | None = None) -> dict[str, str]:
    """Register every plugin's blueprint under its prefix; returns plugin name -> prefix.

    `rate_limit` (the `ratelimit_plugins` setting) limits each plugin's routes per client
    address, in a bucket of its own (rule `plugin_<name>`), so one busy plugin cannot use up
    another's allowance; a plugin may declare stricter `hub.web.ratelimit` rules on its views.

    A plugin that returns something other than a blueprint, or whose name cannot be a path
    segment, stops the hub with a ConfigError naming it (like a bad provider type): a route
    that silently fails to appear would be worse.
    """
    mounted: dict[str, str] = {}
    names: dict[str, str] = {}
    for impl in plugins.manager.hook.hub_register_routes.get_hookimpls():
        blueprint = impl.function()
        if blueprint is None:
            continue
        plugin_name = impl.plugin_name
        if not isinstance(blueprint, Blueprint):
            raise ConfigError(
                f"plugin {plugin_name!r} returned {blueprint!r} from hub_register_routes; "
                f"expected a flask.Blueprint or None"
            )
        if not PLUGIN_NAME.fullmatch(plugin_name):
            raise ConfigError(
                f"plugin {plugin_name!r} cannot mount routes: its entry-point name must be "
                f"lower-case letters, digits, '-' or '_' to become the path {PREFIX}/<name>/"
            )
        prefix = f"{PREFIX}/{plugin_name}"
        registered_name = f"plugin_{plugin_name}"
        # The plugin's blueprint is nested in one made here, per app, so the hub's rules are
        # declared on an object of its own (the plugin's may be mounted in several apps).
        outer = Blueprint(registered_name, __name__)
        outer.register_blueprint(blueprint, url_prefix="")
        if rate_limit:
            ratelimit.limit(registered_name, limit=rate_limit)(outer)
        app.register_blueprint(outer, url_prefix=prefix)
        mounted[plugin_name] = prefix
        names[registered_name] = plugin_name
    app.extensions[EXTENSION] = names
    return mounted


def server_to_server(view: F) -> F:
    """Mark a view as called by another server, not a browser (a webhook, a SCIM client):
    the hub skips its browser CSRF check for it, so the view must authenticate the caller
    itself (a signature, a bearer token) before it changes anything."""
    view.hub_server_to_server = True  # type: ignore[attr-defined]
    return view


def is_server_to_server(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, "hub_server_to_server", False))


def current_user_id() -> int | None:
    """The signed-in person's user id, or None for an anonymous request."""
    current = current_session()
    return current.user.id if current is not None else None


def record_event(
    action: str,
    outcome: str = "success",
    *,
    subject_user_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append an audit event `plugin.<plugin name>.<action>` with this request's context (ip,
    user agent, request id) and the signed-in person as actor, in its own transaction.

    Details are scrubbed like every audit detail, but never put a secret in them.
    """
    plugin_name = _plugin_of_request()
    rt = runtime()
    with write_transaction(rt.db) as session:
        rt.audit.record(
            session,
            f"plugin.{plugin_name}.{action}",
            outcome,
            actor_user_id=current_user_id(),
            subject_user_id=subject_user_id,
            context=audit_context(),
            details=details,
        )
    if outcome == "failure":
        g.failure_audited = True


def _plugin_of_request() -> str:
    names: Mapping[str, str] = current_app.extensions.get(EXTENSION, {})
    blueprints = request.blueprints
    plugin_name = names.get(blueprints[-1]) if blueprints else None
    if plugin_name is None:
        raise RuntimeError("hub.web.plugin_routes.record_event is for views of a hub_register_routes blueprint")
    return plugin_name
