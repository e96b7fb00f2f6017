"""Validates an Entra provider's settings once, at start, into a typed value.

Every problem raises ConfigError naming `providers.<id>.<key>` and what is expected, so a
typo is found when the hub starts and not when the first person tries to sign in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.oidc import DEFAULT_CLOCK_SKEW, base_url_setting, is_guid
from hub.provider import CORE_SETTINGS

log = logging.getLogger(__name__)

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
DEFAULT_SCOPES = ("openid", "profile", "offline_access", "User.Read")
MULTI_TENANT = frozenset({"common", "organizations"})
"""Tenant path values whose discovery issuer is the `{tenantid}` template."""
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
"""The tenant of personal Microsoft accounts; `consumers` is its nickname."""
ANY_TENANT = "*"
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

KNOWN_KEYS = frozenset(
    {
        "tenant",
        "client_id",
        "client_secret",
        "client_auth_method",
        "certificate",
        "certificate_key",
        "certificate_password",
        "authority_host",
        "graph_base_url",
        "scopes",
        "allowed_tenants",
        "role_map",
        "clock_skew_seconds",
        "discovery_ttl_seconds",
    }
) | CORE_SETTINGS


@dataclass(frozen=True)
class EntraSettings:
    """One Entra provider's settings, checked."""

    tenant: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate_key_pem: bytes | None = field(default=None, repr=False)
    certificate_pem: bytes | None = field(default=None, repr=False)
    certificate_password: bytes | None = field(default=None, repr=False)
    client_auth_method: str = "client_secret_basic"
    authority_host: str = DEFAULT_AUTHORITY_HOST
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    extra_scopes: tuple[str, ...] = ()
    allowed_tenants: frozenset[str] | None = frozenset()
    """Tenant GUIDs allowed to sign in; None means any tenant (an explicit `["*"]`)."""
    role_map: Mapping[str, str] = field(default_factory=dict)
    clock_skew_seconds: int = DEFAULT_CLOCK_SKEW
    discovery_ttl_seconds: int = 24 * 3600

    @property
    def authority(self) -> str:
        return f"{self.authority_host}/{self.tenant}"

    @property
    def is_multi_tenant(self) -> bool:
        return self.tenant in MULTI_TENANT

    @property
    def uses_certificate(self) -> bool:
        return self.certificate_key_pem is not None

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*DEFAULT_SCOPES, *self.extra_scopes)))


def parse_settings(provider_id: str, settings: Mapping[str, Any]) -> EntraSettings:
    """Check every setting of provider `provider_id`; raise ConfigError on the first problem."""
    key = _Namer(provider_id)
    unknown = sorted(set(settings) - KNOWN_KEYS)
    if unknown:
        log.warning("Ignoring unknown settings %s.", ", ".join(key(name) for name in unknown))
    tenant = _tenant(settings.get("tenant"), key("tenant"))
    client_id = settings.get("client_id")
    if not is_guid(client_id):
        raise ConfigError(
            f"{key('client_id')} must be the application (client) ID GUID from the app "
            "registration's Overview page, e.g. aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb."
        )
    credential = _credential(settings, key)
    allowed = _allowed_tenants(settings.get("allowed_tenants"), tenant, key("allowed_tenants"))
    return EntraSettings(
        tenant=tenant,
        client_id=str(client_id).lower(),
        authority_host=base_url_setting(
            settings.get("authority_host", DEFAULT_AUTHORITY_HOST), key("authority_host")
        ),
        graph_base_url=base_url_setting(
            settings.get("graph_base_url", DEFAULT_GRAPH_BASE_URL), key("graph_base_url")
        ),
        extra_scopes=_scopes(settings.get("scopes"), key("scopes")),
        allowed_tenants=allowed,
        role_map=_role_map(settings.get("role_map"), key("role_map")),
        clock_skew_seconds=_seconds(
            settings.get("clock_skew_seconds", DEFAULT_CLOCK_SKEW), key("clock_skew_seconds"), 600
        ),
        discovery_ttl_seconds=_seconds(
            settings.get("discovery_ttl_seconds", 24 * 3600),
            key("discovery_ttl_seconds"),
            7 * 86400,
        ),
        **credential,
    )


class _Namer:
    """Builds the `providers.<id>.<key>` names used in messages."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id

    def __call__(self, name: str) -> str:
        return f"providers.{self.provider_id}.{name}"


def _tenant(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{name} is required: the directory (tenant) ID GUID, a verified domain such as "
            "contoso.onmicrosoft.com, or one of common, organizations, consumers."
        )
    tenant = value.strip().lower()
    if is_guid(tenant) or tenant in MULTI_TENANT or tenant == "consumers" or _DOMAIN.match(tenant):
        return tenant
    raise ConfigError(
        f"{name} must be a tenant GUID, a verified domain, or common/organizations/consumers; got {value!r}."
    )


def _credential(settings: Mapping[str, Any], key: _Namer) -> dict[str, Any]:
    """Exactly one credential: a client secret, or a certificate with its private key."""
    secret = settings.get("client_secret")
    has_certificate = bool(settings.get("certificate") or settings.get("certificate_key"))
    if secret and has_certificate:
        raise ConfigError(
            f"{key('client_secret')} and {key('certificate')} are both set; configure exactly "
            "one credential (a certificate is preferred in production)."
        )
    if has_certificate:
        return _certificate(settings, key)
    if not isinstance(secret, str) or not secret:
        raise ConfigError(
            f"{key('client_secret')} is required (the secret *value* from Certificates & "
            f"secrets), unless you configure {key('certificate')} and {key('certificate_key')}."
        )
    method = settings.get("client_auth_method", "client_secret_basic")
    if method not in CLIENT_AUTH_METHODS:
        raise ConfigError(
            f"{key('client_auth_method')} must be one of {', '.join(CLIENT_AUTH_METHODS)} when "
            "a client secret is used."
        )
    return {"client_secret": secret, "client_auth_method": method}


def _certificate(settings: Mapping[str, Any], key: _Namer) -> dict[str, Any]:
    certificate = _pem(settings.get("certificate"), key("certificate"), "CERTIFICATE")
    private_key = _pem(settings.get("certificate_key"), key("certificate_key"), "PRIVATE KEY")
    password = settings.get("certificate_password")
    if password is not None and not isinstance(password, str):
        raise ConfigError(f"{key('certificate_password')} must be a string.")
    return {
        "certificate_pem": certificate,
        "certificate_key_pem": private_key,
        "certificate_password": password.encode() if password else None,
        "client_auth_method": "private_key_jwt",
    }


def _pem(value: Any, name: str, label: str) -> bytes:
    """PEM text given inline, or the path of a PEM file."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{name} is required with a certificate credential: PEM text or the path of a PEM file."
        )
    if "-----BEGIN" in value:
        text = value
    else:
        path = Path(value).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read the PEM file {str(path)!r} ({exc.strerror}).") from exc
    if label not in text:
        raise ConfigError(f"{name} does not contain a PEM {label.lower()} block.")
    return text.encode()


def _allowed_tenants(value: Any, tenant: str, name: str) -> frozenset[str] | None:
    """For common/organizations the list is required: an app open to every Entra tenant in
    the world is never what someone meant by leaving a setting out. `["*"]` opts in."""
    if value is None or value == []:
        if tenant in MULTI_TENANT:
            raise ConfigError(
                f"{name} is required when tenant is {tenant!r}: list the tenant GUIDs whose "
                'people may sign in, or ["*"] to allow every tenant on purpose.'
            )
        return frozenset()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{name} must be a list of tenant GUIDs.")
    if value == [ANY_TENANT]:
        return None
    bad = [item for item in value if not is_guid(item)]
    if bad:
        raise ConfigError(
            f"{name} must list tenant GUIDs (domains change, GUIDs do not); not GUIDs: "
            f"{', '.join(repr(item) for item in bad)}."
        )
    allowed = frozenset(item.lower() for item in value)
    if is_guid(tenant) and tenant not in allowed:
        raise ConfigError(f"{name} does not contain the configured tenant {tenant}; nobody could sign in.")
    return allowed


def _scopes(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f'{name} must be a list of extra scopes, e.g. ["Calendars.Read"].')
    return tuple(value)


def _role_map(value: Any, name: str) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise ConfigError(
            f'{name} must map Entra app role values to hub roles, e.g. {{"Hub.Admin" = "admin"}}.'
        )
    return dict(value)


def _seconds(value: Any, name: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ConfigError(f"{name} must be a whole number of seconds from 0 to {maximum}.")
    return value
