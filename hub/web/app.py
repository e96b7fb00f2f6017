"""create_app(): settings, runtime (database, plugins, providers), blueprints, security headers."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app, g, request
from sqlalchemy import event
from werkzeug.wrappers import Response

from hub.core import migrate, sessions
from hub.core.config import Settings, load_settings
from hub.core.db import write_transaction
from hub.core.errors import ConfigError
from hub.core.parsing import check_request_text
from hub.core.resources import static_dir, templates_dir
from hub.plugin.manager import Plugins
from hub.runtime import Runtime
from hub.web import issuer_server, logs, ratelimit, security, upstream_checks
from hub.web import plugin_routes as routes
from hub.web.converters import IdConverter
from hub.web.proxy import TrustedProxies
from hub.web.request import close_db_session, runtime
from hub.web.views import (
    account,
    admin,
    admin_scim,
    api,
    applications,
    auth,
    errors,
    health,
    issuer,
    leavers,
    metrics,
    provider_logout,
    provider_token,
    scim,
)

MAX_REQUEST_BYTES = 1 * 1024 * 1024


def freeze_startup_heap() -> None:
    """Move everything the app built at start (modules, routes, plugins, compiled statements)
    out of the garbage collector's reach: it lives as long as the process, yet every full
    collection would scan it again (about 170,000 objects, 0.2 ms of a sign-in's CPU; measured
    in benchmarks/README.md). Call once, after create_app and before a server forks or serves."""
    gc.collect()
    gc.freeze()


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    plugins: Plugins | None = None,
    settings: Settings | None = None,
    migrate_database: bool = False,
) -> Flask:
    """Build the hub. Refuses to serve a database whose schema is not current, unless asked to
    migrate it (the demo does)."""
    settings = settings or load_settings(overrides=test_config)
    logs.configure(settings.log_format, settings.log_level)
    rt = Runtime.load(settings, plugins)
    if migrate_database:
        migrate.upgrade(rt.db)
    problem = migrate.pending_message(rt.db)
    if problem:
        rt.close()
        raise ConfigError(f"database_url: {problem}")

    _end_sessions_of_absent_providers(rt)

    app = Flask(
        "hub",
        template_folder=str(templates_dir()),
        static_folder=str(static_dir()),
        instance_path=str(settings.instance_path),
    )
    # Bounded ids in every route, before any blueprint adds one (hub.web.converters.IdConverter).
    app.url_map.converters["int"] = IdConverter
    # Werkzeug answers /admin//accounts and /x (for a rule /x/) with a redirect to an absolute
    # URL built from the request's Host header: Host: evil.example made it a redirect there.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.config.update(
        SECRET_KEY=rt.keys.secret_key,
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        HUB_SECRET=rt.keys.secret_key,
        HUB_BASE_URL=settings.base_url,
        HUB_HTTPS=settings.is_https,
        HUB_SESSION_COOKIE=security.cookie_name("hub_session", settings.is_https),
        HUB_BROWSER_COOKIE=security.cookie_name("hub_browser", settings.is_https),
    )
    app.extensions["hub"] = rt
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]

    # Hooks run in the order added: request id, then rate limits, then the session lookup and
    # CSRF check, so a request over its limit costs no database work.
    app.before_request(_start_request)
    try:
        ratelimit.init_app(app, settings)
    except ConfigError:
        rt.close()
        raise
    _deliver_backchannel_logouts(app, rt)
    app.before_request(_before_request)
    app.after_request(partial(security.apply_headers, app))
    app.after_request(_access_log)
    app.after_request(partial(_redirects_stay_on_our_host, urlsplit(settings.base_url).netloc.lower()))
    app.teardown_appcontext(close_db_session)
    for blueprint in (
        auth.bp,
        account.bp,
        health.bp,
        admin.bp,
        applications.bp,
        applications.admin_bp,
        leavers.bp,
        provider_logout.bp,
        api.bp,
        provider_token.bp,
        metrics.bp,
        issuer.bp,
        scim.bp,
        admin_scim.bp,
    ):
        app.register_blueprint(blueprint)
    issuer_server.install(app, rt)
    errors.register(app)
    _add_callback_routes(app, rt)
    try:
        routes.mount(app, rt.plugins, settings.ratelimit_plugins)
    except ConfigError:
        rt.close()
        raise
    return app


def _add_callback_routes(app: Flask, rt: Runtime) -> None:
    """Answer each provider's callback at the path of its configured redirect URI too, so an
    app registration made for another path (the tutorial's /callback) works unchanged."""
    for path, provider_id in rt.registry.callback_paths().items():
        if path != f"/auth/{provider_id}/callback":
            # The view itself with the provider as a URL default, not a functools.partial: the
            # rate limiter names views by their function, and a partial has none (it went
            # unlimited and logged a traceback per request).
            app.add_url_rule(
                path,
                endpoint=f"auth.callback_{provider_id}",
                view_func=auth.callback_view,
                defaults={"provider_id": provider_id},
                methods=["GET"],
            )


def _end_sessions_of_absent_providers(rt: Runtime) -> None:
    """A provider that stopped running (plugin uninstalled, configuration removed) takes its
    sessions with it, audited once per provider by the first process that finds them."""
    with write_transaction(rt.db) as session:
        ended = sessions.end_sessions_of_absent_providers(session, set(rt.providers))
        for provider_id, count in sorted(ended.items()):
            rt.audit.record(
                session,
                "provider.unavailable",
                "success",
                provider_id=provider_id,
                details={
                    "sessions_ended": count,
                    "reason": rt.registry.unavailable.get(provider_id, "no longer configured")[:200],
                },
            )


def _redirects_stay_on_our_host(configured: str, response: Response) -> Response:
    """No redirect names a host the hub was not configured with.

    Nothing of ours builds a Location from the Host header, but a framework redirect (or a
    plugin's) would: such a Location becomes a path on this origin. The Host header is not
    checked as a whole (TRUSTED_HOSTS) because probes and load balancers reach /healthz and
    /readyz by address."""
    location = response.headers.get("Location")
    if not location:
        return response
    parts = urlsplit(location)
    if parts.netloc and parts.netloc.lower() != configured and parts.netloc.lower() == request.host.lower():
        path = "/" + parts.path.lstrip("/")  # never "//host": a scheme-relative URL leaves the site
        response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
    return response


def _deliver_backchannel_logouts(app: Flask, rt: Runtime) -> None:
    """Send the back-channel logout tokens a commit queued right after it, and run the
    delivery thread in every process that serves requests (a gunicorn worker forked from a
    preloaded app starts its own on its first request)."""
    event.listen(rt.db.sessions, "after_commit", rt.backchannel.after_commit)
    event.listen(rt.db.sessions, "after_rollback", rt.backchannel.after_rollback)
    app.before_request(rt.backchannel.ensure_running)
    if rt.settings.audit_deferred:  # the audit outbox's chainer, started the same way
        app.before_request(rt.chainer.ensure_running)


def _access_log(response: Response) -> Response:
    logs.log_request(response.status_code, g.get("started", 0.0))
    return response


def _start_request() -> None:
    g.started = time.perf_counter()
    logs.assign_request_id()


def _before_request() -> None:
    check_request_text(_request_text())
    if request.endpoint in {"static", "health.healthz", "health.readyz", "metrics.scrape"} | issuer.PUBLIC_ENDPOINTS:
        return
    g.current_session = _current_session()
    if (
        request.method not in security.SAFE_METHODS
        and not request.path.startswith(("/api/", "/scim/"))
        and request.endpoint != provider_logout.BACKCHANNEL_ENDPOINT  # server to server, no browser
        and not routes.is_server_to_server(request.endpoint)
    ):
        security.check_csrf(current_app)


def _request_text() -> Iterator[str]:
    yield request.path
    for key, value in request.args.items(multi=True):
        yield key
        yield value
    if request.method not in security.SAFE_METHODS and request.mimetype in {
        "application/x-www-form-urlencoded", "multipart/form-data"
    }:
        for key, value in request.form.items(multi=True):
            yield key
            yield value


def _current_session() -> sessions.CurrentSession | None:
    token = request.cookies.get(current_app.config["HUB_SESSION_COOKIE"])
    if not token:
        return None
    rt = runtime()
    with rt.db.session() as session:
        current = sessions.lookup(session, token, sessions.session_policy(rt.settings))
    if current is not None and upstream_checks.refused_session_account(rt, current.account):
        return None
    if current is not None and sessions.needs_touch(current):
        with write_transaction(rt.db) as session:
            sessions.touch(session, current)
    return current

