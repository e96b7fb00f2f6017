"""Settings from hub.toml, `HUB_*` environment variables and a `.env` file, validated at start.

Precedence, highest first: explicit overrides (tests), the environment (the `.env` file fills
only variables the environment does not set), hub.toml, defaults. Every problem is reported
as one ConfigError line that names the setting and what is expected.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values
from limits import parse_many

from hub.core.errors import ConfigError

IN_PROCESS_STORAGE = frozenset({"memory", "async+memory"})
"""Rate-limit storage schemes (compared in lower case) that count inside one process."""
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
METRICS_TOKEN_MIN = 32
REFRESH_REUSE_GRACE_MAX = 60


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one hub process. See docs/configuration.md."""

    instance_path: Path
    config_file: Path | None
    database_url: str
    base_url: str
    production: bool = False
    secret_key: str | None = None
    token_keys: str | None = None
    audit_key: str | None = None
    log_format: str = "text"
    log_level: str = "INFO"
    plugins: tuple[str, ...] | None = None
    """Allow-list of plugin (entry-point) names; None loads every installed plugin."""
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    trusted_proxies: int = 0
    audit_retention_days: int = 365
    audit_chaining: str = "auto"
    """inline (each event chained in its request's transaction, under one lock), deferred (the
    outbox: the chainer links events off the request path) or auto: deferred on PostgreSQL,
    inline on SQLite, whose write lock serialises every writer anyway (hub.core.audit.chainer)."""
    audit_chain_interval_ms: int = 200
    """How often each serving process's chainer links the outbox: the chain lag when idle."""
    metrics_allow: tuple[str, ...] = ()
    """Client networks that may read /metrics (e.g. 127.0.0.1/32, 10.0.0.0/8)."""
    metrics_token: str | None = field(default=None, repr=False)
    """A bearer token /metrics requires. With neither setting, /metrics answers 404."""
    ratelimit_storage: str = "memory://"
    """Where rate-limit counters live: memory:// (one process) or redis://host:port/db."""
    ratelimit_key_prefix: str = "hub"
    """Prefix of every rate-limit key, so several hubs can share one Redis."""
    ratelimit_signin: str = "60 per minute; 600 per hour"
    ratelimit_callback: str = "60 per minute; 600 per hour"
    ratelimit_logout: str = "60 per minute"
    ratelimit_api: str = "600 per minute"
    ratelimit_token: str = "1200 per minute"  # noqa: S105 - a rate, not a secret
    """The issuer's token endpoint, per application (client id)."""
    ratelimit_plugins: str = "120 per minute"
    """Each plugin's routes (hub_register_routes), per plugin and client address."""
    ratelimit_anonymous: str = "300 per minute; 3000 per hour"
    """Every route not exempted, per client address: spent by each request that neither signed
    in nor proved who sends it, and by every refused request (hub.web.ratelimit.ANONYMOUS)."""
    ratelimit_public: str = "1200 per minute"
    ratelimit_scim: str = "600 per minute"
    """Discovery and JWKS, per client address (applications fetch them without credentials)."""
    pending_signins_per_browser: int = 5
    pending_signins_max: int = 20000
    refresh_reuse_grace_seconds: int = 10
    """How long an application may present a refresh token again after it was rotated and get
    the same successor (a retry, two tabs) instead of having its family revoked as reuse."""
    upstream_check_seconds: int = 300
    """How long the hub trusts a person's upstream account without asking its provider again
    (hub.upstream.checks): a hub session used, or an application's refresh, after that asks first."""
    upstream_check_grace_seconds: int = 900
    """How long after the last confirmation a provider that fails transiently (timeout, 5xx) is
    trusted all the same, before the hub refuses the account's sessions and refreshes."""
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The environment merged with .env, for hooks that read conventional variables."""
    explicit: frozenset[str] = frozenset()
    """The settings given by the operator (overrides, environment, hub.toml), not defaulted:
    `hub serve --port` derives base_url only when it is not among them."""

    @property
    def is_https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def audit_deferred(self) -> bool:
        """Whether audited actions write to the outbox (`audit_chaining`, resolved)."""
        return self.audit_chaining == "deferred" or (self.audit_chaining == "auto" and not self.is_sqlite)


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}

# setting name -> (kind, default). Kinds: str, bool, int, list.
_SCALARS: dict[str, tuple[str, Any]] = {
    "database_url": ("str", None),
    "base_url": ("str", "http://localhost:5001"),
    "production": ("bool", False),
    "secret_key": ("str", None),
    "token_keys": ("str", None),
    "audit_key": ("str", None),
    "log_format": ("str", "text"),
    "log_level": ("str", "INFO"),
    "plugins": ("list", None),
    "session_idle_minutes": ("int", 60),
    "session_absolute_hours": ("int", 12),
    "trusted_proxies": ("int", 0),
    "audit_retention_days": ("int", 365),
    "audit_chaining": ("str", "auto"),
    "audit_chain_interval_ms": ("int", 200),
    "metrics_allow": ("list", ()),
    "metrics_token": ("str", None),
    "ratelimit_storage": ("str", "memory://"),
    "ratelimit_key_prefix": ("str", "hub"),
    "ratelimit_signin": ("str", "60 per minute; 600 per hour"),
    "ratelimit_callback": ("str", "60 per minute; 600 per hour"),
    "ratelimit_logout": ("str", "60 per minute"),
    "ratelimit_api": ("str", "600 per minute"),
    "ratelimit_token": ("str", "1200 per minute"),
    "ratelimit_plugins": ("str", "120 per minute"),
    "ratelimit_anonymous": ("str", "300 per minute; 3000 per hour"),
    "ratelimit_public": ("str", "1200 per minute"),
    "ratelimit_scim": ("str", "600 per minute"),
    "pending_signins_per_browser": ("int", 5),
    "pending_signins_max": ("int", 20000),
    "refresh_reuse_grace_seconds": ("int", 10),
    "upstream_check_seconds": ("int", 300),
    "upstream_check_grace_seconds": ("int", 900),
}

RATELIMIT_SETTINGS = (
    "ratelimit_signin", "ratelimit_callback", "ratelimit_logout", "ratelimit_api", "ratelimit_token", "ratelimit_plugins",
    "ratelimit_anonymous", "ratelimit_public", "ratelimit_scim",
)  # fmt: skip
"""The limits of the core's rules (hub.web.ratelimit); each is a Flask-Limiter limit string."""


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    dotenv_path: Path | None = None,
) -> Settings:
    """Read and validate the configuration. Raises ConfigError naming the first bad setting."""
    if environ is None:  # the real process: its environment, filled in from .env
        env = _merged_environ(dict(os.environ), dotenv_path)
    else:  # an explicit environment is the whole environment (tests, tools)
        env = _merged_environ(dict(environ), dotenv_path) if dotenv_path else dict(environ)
    overrides = dict(overrides or {})
    instance_path = Path(
        overrides.pop("instance_path", None) or env.get("HUB_INSTANCE_PATH") or "instance"
    ).resolve()
    config_file = _config_file(env, overrides, instance_path)
    document = _read_toml(config_file) if config_file else {}
    hub_table = document.get("hub", {})
    if not isinstance(hub_table, dict):
        raise ConfigError(f"{config_file}: [hub] must be a table")
    unknown = set(hub_table) - set(_SCALARS)
    if unknown:
        raise ConfigError(
            f"{config_file}: unknown setting hub.{sorted(unknown)[0]}; "
            f"expected one of {', '.join(sorted(_SCALARS))}"
        )

    values: dict[str, Any] = {}
    explicit: set[str] = set()
    for name, (kind, default) in _SCALARS.items():
        env_name = f"HUB_{name.upper()}"
        if name in overrides:
            raw, source = overrides.pop(name), f"{name}"
        elif env_name in env:
            raw, source = env[env_name], env_name
        elif name in hub_table:
            raw, source = hub_table[name], f"hub.{name} in {config_file}"
        else:
            values[name] = default
            continue
        values[name] = _coerce(raw, kind, source)
        explicit.add(name)

    if values["database_url"] is None:
        values["database_url"] = f"sqlite:///{instance_path / 'hub.sqlite3'}"
    providers = _providers(document, env, overrides.pop("providers", None), config_file)
    if overrides:
        raise ConfigError(f"unknown setting {sorted(overrides)[0]!r} given to the hub")

    settings = Settings(
        instance_path=instance_path,
        config_file=config_file,
        providers=providers,
        environ=env,
        explicit=frozenset(explicit),
        **values,
    )
    _validate(settings)
    return settings


def _merged_environ(env: dict[str, str], dotenv_path: Path | None) -> dict[str, str]:
    path = dotenv_path or Path(env.get("HUB_DOTENV", ".env"))
    if path.is_file():
        for key, value in dotenv_values(path).items():
            if value is not None:
                env.setdefault(key, value)
    return env


def _config_file(env: Mapping[str, str], overrides: dict[str, Any], instance: Path) -> Path | None:
    explicit = overrides.pop("config_file", None) or env.get("HUB_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"HUB_CONFIG: expected the path of a hub.toml file, {path} does not exist")
        return path
    default = instance / "hub.toml"
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _coerce(raw: Any, kind: str, source: str) -> Any:
    if kind == "str":
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"{source}: expected a non-empty string")
        return raw.strip()
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _BOOL_TRUE:
            return True
        if text in _BOOL_FALSE:
            return False
        raise ConfigError(f"{source}: expected true or false, got {raw!r}")
    if kind == "int":
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: expected a whole number, got {raw!r}") from None
        if number < 0:
            raise ConfigError(f"{source}: expected zero or more, got {number}")
        return number
    if kind == "list":
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    raise AssertionError(kind)


def _providers(
    document: Mapping[str, Any],
    env: Mapping[str, str],
    explicit: Mapping[str, Mapping[str, Any]] | None,
    config_file: Path | None,
) -> dict[str, dict[str, Any]]:
    """[providers.<id>] tables, overlaid with HUB_PROVIDERS__<ID>__<KEY> variables."""
    tables = explicit if explicit is not None else document.get("providers", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{config_file}: [providers] must be a table of [providers.<id>] tables")
    providers = {str(pid): dict(table) for pid, table in tables.items()}
    for name, value in env.items():
        if not name.startswith("HUB_PROVIDERS__"):
            continue
        parts = name.split("__")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise ConfigError(f"{name}: expected HUB_PROVIDERS__<ID>__<SETTING>")
        providers.setdefault(parts[1].lower(), {})[parts[2].lower()] = value
    for pid, table in providers.items():
        check_provider_table(pid, table)
    return providers


def check_provider_table(provider_id: str, table: Mapping[str, Any]) -> None:
    """The id and redirect URI of a provider table. Its type is checked by hub.upstream.registry, once
    providers that plugins offer are merged with tables that only overlay them."""
    if not provider_id.replace("-", "").replace("_", "").isalnum() or len(provider_id) > 64:
        raise ConfigError(
            f"providers.{provider_id}: expected an id of letters, digits, - and _ (at most 64)"
        )
    redirect = table.get("redirect_uri")
    if redirect is not None:
        parts = urlsplit(str(redirect))
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(
                f"providers.{provider_id}.redirect_uri: expected an absolute http(s) URL "
                f"without query or fragment, got {redirect!r}"
            )


def _validate(settings: Settings) -> None:
    base = urlsplit(settings.base_url)
    if base.scheme not in {"http", "https"} or not base.netloc or base.path not in {"", "/"}:
        raise ConfigError(
            f"base_url: expected the hub's public origin such as https://hub.example.com, "
            f"got {settings.base_url!r}"
        )
    if settings.audit_chaining not in {"auto", "inline", "deferred"}:
        raise ConfigError(f"audit_chaining: expected auto, inline or deferred, got {settings.audit_chaining!r}")
    if not 10 <= settings.audit_chain_interval_ms <= 60000:
        raise ConfigError("audit_chain_interval_ms: expected 10 to 60000 (milliseconds)")
    if settings.log_format not in {"text", "json"}:
        raise ConfigError(f"log_format: expected text or json, got {settings.log_format!r}")
    if settings.session_idle_minutes < 1 or settings.session_absolute_hours < 1:
        raise ConfigError("session_idle_minutes and session_absolute_hours: expected at least 1")
    for entry in settings.metrics_allow:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"metrics_allow: expected IP addresses or networks such as 127.0.0.1 or 10.0.0.0/8, "
                f"got {entry!r}"
            ) from None
    if settings.pending_signins_per_browser < 1 or settings.pending_signins_max < 1:
        raise ConfigError("pending_signins_per_browser and pending_signins_max: expected at least 1")
    if settings.refresh_reuse_grace_seconds > REFRESH_REUSE_GRACE_MAX:
        raise ConfigError(
            f"refresh_reuse_grace_seconds: expected 0 to {REFRESH_REUSE_GRACE_MAX} seconds (a short window "
            f"for retries; longer weakens reuse detection), got {settings.refresh_reuse_grace_seconds}"
        )
    if settings.upstream_check_seconds < 1 or settings.upstream_check_grace_seconds < 0:
        raise ConfigError(
            "upstream_check_seconds: expected at least 1 second; upstream_check_grace_seconds: expected 0 or more"
        )
    for name in RATELIMIT_SETTINGS:
        check_limit_string(name, getattr(settings, name))
    scheme = urlsplit(settings.ratelimit_storage).scheme.lower()
    if scheme not in {"memory", "redis", "rediss", "redis+unix"}:
        raise ConfigError(
            f"ratelimit_storage: expected memory:// or redis://host:port/db, got a {scheme or 'bare'} URL"
        )


def check_limit_string(name: str, value: str) -> None:
    """Refuse a malformed limit at start, not at the first request it would apply to."""
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if not items:
        raise ConfigError(
            f"{name}: expected limits such as '60 per minute; 600 per hour', got {value!r}"
        )


WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104 - names, not a bind


def served_base_url(host: str, port: int) -> str:
    """The base_url `hub serve --host --port` implies when none is configured: the address a
    browser on this machine uses (localhost for loopback and every-address binds, as the
    default http://localhost:5001 does)."""
    if host in LOOPBACK_HOSTS or host in WILDCARD_HOSTS:
        name = "localhost"
    else:
        name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{name}:{port}"


def is_loopback_http(url: str) -> bool:
    """http:// is allowed only for loopback hosts (development against a local emulator)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def production_problems(settings: Settings, redirect_uris: Mapping[str, str], generated: set[str]) -> list[str]:
    """Why this configuration is unsafe for production; empty when it is fine."""
    problems = [
        f"{name}: generated development secret; set HUB_{name.upper()} (`hub secrets new` prints all three)"
        for name in sorted(generated)
    ]
    if "base_url" not in settings.explicit:
        problems.insert(0, "base_url: not configured; set HUB_BASE_URL to the hub's public https address")
    if settings.is_sqlite:
        problems.append("database_url: SQLite is for development; set HUB_DATABASE_URL to PostgreSQL")
    if urlsplit(settings.ratelimit_storage).scheme.lower() in IN_PROCESS_STORAGE:  # MEMORY:// too
        problems.append(
            f"ratelimit_storage: {settings.ratelimit_storage} counts per process, so workers would each "
            "allow the full limit; set HUB_RATELIMIT_STORAGE to redis://host:6379/0"
        )
    if not is_loopback_http(settings.base_url):
        problems.append(f"base_url: expected https in production, got {settings.base_url}")
    if settings.metrics_token is not None and len(settings.metrics_token) < METRICS_TOKEN_MIN:
        problems.append(f"metrics_token: expected at least {METRICS_TOKEN_MIN} random characters")
    for provider_id, uri in sorted(redirect_uris.items()):
        if not is_loopback_http(uri):
            problems.append(f"providers.{provider_id}.redirect_uri: expected https, got {uri}")
    return problems
