"""The applications registry: downstream OAuth clients of the hub, their secrets and settings.

A client secret is 256 random bits, shown once and stored as its SHA-256 (a random secret
needs no password stretching). Redirect URIs are matched exactly; the one freedom is RFC 8252
§7.3: a public (native) application registered with an http loopback IP address may use any
port at that address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.oauth2.base import invalid_error_characters
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.errors import HubError
from hub.core.models import Application, utcnow

SCOPES = ("openid", "profile", "email", "roles", "offline_access", "provider_tokens")
"""Every scope the hub knows; an application may be limited to a subset."""

PUBLIC = "none"
"""The token endpoint auth method of public applications: no secret, PKCE required."""
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", PUBLIC)
"""The token endpoint auth methods an application may be registered with (and discovery lists)."""
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
SECRET_BASIC_OR_POST = "client_secret_basic_or_post"  # noqa: S105 - a method name, not a secret
"""What is stored for a confidential application registered without an explicit method: it may
send its secret either way, as most OpenID Providers allow and most client libraries assume
(four of five common ones send `client_secret_post` by default). Not an RFC 7591 name: never
published; `accepted_auth_methods` turns it into the two standard ones."""
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
SIGNING_ALGS = ("RS256", "ES256")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "::1", "localhost"})


class ApplicationError(HubError):
    """An application could not be registered or changed as asked; the message says why."""

    code = "application_invalid"
    status = 400
    title = "The application could not be saved"
    hint = "Correct the value named above and try again."


class ApplicationNotFound(HubError):
    code = "application_not_found"
    status = 404
    title = "No such application"
    hint = "`hub apps list` shows the registered applications."


@dataclass(frozen=True)
class NewSecret:
    """An application and its client secret, which is shown once and never stored."""

    application: Application
    client_secret: str | None = field(repr=False)


def is_public(application: Application) -> bool:
    return application.token_endpoint_auth_method == PUBLIC


def accepted_auth_methods(application: Application) -> tuple[str, ...]:
    """How this application may authenticate at the token, revocation and introspection
    endpoints: the method it was registered with, or either way of sending the secret when it
    was registered with the default."""
    method = application.token_endpoint_auth_method
    return SECRET_METHODS if method == SECRET_BASIC_OR_POST else (method,)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_secret(application: Application, presented: str | None) -> bool:
    """Whether `presented` is this application's client secret (constant-time)."""
    if not presented or application.secret_hash is None:
        return False
    return hmac.compare_digest(application.secret_hash, hash_secret(presented))


def validate_redirect_uri(uri: str, *, public: bool) -> str:
    """An absolute redirect URI without fragment; http only to loopback addresses."""
    uri = uri.strip()
    parts = urlsplit(uri)
    if not parts.scheme or len(uri) > 2048 or any(ord(ch) < 0x21 for ch in uri):
        raise ApplicationError(f"redirect URI {uri!r} is not an absolute URI")
    if parts.fragment or "#" in uri:
        raise ApplicationError(f"redirect URI {uri!r} must not have a fragment (RFC 6749 §3.1.2)")
    if invalid_error_characters(uri):
        # Also what RFC 6749 §4.1.2.1 allows in error descriptions, which quote the URI.
        raise ApplicationError(
            f"redirect URI {uri!r}: write quotes, backslashes and non-ASCII characters percent-encoded"
        )
    if parts.scheme in {"http", "https"}:
        if not parts.hostname:
            raise ApplicationError(f"redirect URI {uri!r} has no host")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ApplicationError(
                f"redirect URI {uri!r}: plain http is allowed only to 127.0.0.1, [::1] or localhost"
            )
    elif not public:
        raise ApplicationError(
            f"redirect URI {uri!r}: a custom scheme is for public (native) applications; use --public"
        )
    elif parts.scheme in {"javascript", "data", "file", "vbscript"}:
        raise ApplicationError(f"redirect URI {uri!r} uses a forbidden scheme")
    return uri


METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal"})
"""Cloud metadata services by name; by address they are link-local (169.254.169.254, fd00:ec2::254)
or in the ranges `_unroutable` refuses."""


def validate_backchannel_logout_uri(uri: str) -> str:
    """A back-channel logout URI the hub may POST to from inside the network: https (http only to
    loopback), and never a link-local, metadata, unspecified, multicast or reserved address, since
    whoever registers an application would otherwise make the hub send requests there."""
    uri = validate_redirect_uri(uri, public=False)
    host = (urlsplit(uri).hostname or "").rstrip(".").lower()
    if host in METADATA_HOSTS:
        raise ApplicationError(f"back-channel logout URI {uri!r} names a cloud metadata service")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return uri  # a name; it is resolved at delivery
    if _unroutable(address):
        raise ApplicationError(
            f"back-channel logout URI {uri!r}: {address} is a link-local, metadata or reserved address; "
            "give the application's own host name or address"
        )
    return uri


def _unroutable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback:
        return False  # ::1 sits in a reserved IPv6 block; a receiver on this host is fine
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _unroutable(address.ipv4_mapped)
        if address in ipaddress.ip_network("fd00:ec2::/32"):  # AWS metadata over IPv6
            return True
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.100.100.200/32"):
        return True  # Alibaba Cloud metadata (in the shared 100.64.0.0/10 range)
    return address.is_link_local or address.is_unspecified or address.is_multicast or address.is_reserved


def redirect_uri_matches(application: Application, requested: str) -> bool:
    """Exact match, or RFC 8252 §7.3 loopback port freedom for public applications."""
    registered = application.redirect_uris.get("uris", [])
    if requested in registered:
        return True
    if not is_public(application):
        return False
    asked = urlsplit(requested)
    if asked.scheme != "http" or asked.hostname not in {"127.0.0.1", "::1"}:
        return False
    for uri in registered:
        known = urlsplit(uri)
        if (
            known.scheme == "http"
            and known.hostname == asked.hostname
            and known.path == asked.path
            and known.query == asked.query
        ):
            return True
    return False


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 128:
        raise ApplicationError("an application needs a name of 1 to 128 characters")
    return name


def _check_scopes(scopes: str | None) -> str:
    if not scopes:
        return " ".join(SCOPES)
    asked = scopes.split()
    unknown = [scope for scope in asked if scope not in SCOPES]
    if unknown:
        raise ApplicationError(f"unknown scopes {', '.join(unknown)}; the hub knows {', '.join(SCOPES)}")
    return " ".join(dict.fromkeys(asked))


def create(
    session: Session,
    name: str,
    redirect_uris: list[str],
    *,
    public: bool = False,
    first_party: bool = False,
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    auth_method: str | None = None,
    grant_types: list[str] | None = None,
    scopes: str | None = None,
    signing_alg: str = "RS256",
    pairwise_subject: bool = False,
    jwks: dict | None = None,
    jwks_uri: str | None = None,
) -> NewSecret:
    """Register an application. Confidential ones get a client secret, returned once. Without
    `auth_method` a confidential application may send its secret either way (basic or post);
    with one, only that way."""
    method = auth_method or (PUBLIC if public else SECRET_BASIC_OR_POST)
    if method not in (*AUTH_METHODS, SECRET_BASIC_OR_POST):
        raise ApplicationError(
            f"token endpoint auth method {method!r}: expected one of {', '.join(AUTH_METHODS)}"
        )
    if public != (method == PUBLIC):
        raise ApplicationError(
            "a public application authenticates with `none`; a confidential one never does"
        )
    if method == "private_key_jwt" and not (jwks or jwks_uri):
        raise ApplicationError("private_key_jwt needs the application's public keys (jwks or jwks_uri)")
    if jwks_uri:
        jwks_uri = validate_redirect_uri(jwks_uri, public=False)
    types = list(dict.fromkeys(grant_types or ["authorization_code", "refresh_token"]))
    unknown = [grant for grant in types if grant not in GRANT_TYPES]
    if unknown:
        raise ApplicationError(f"unknown grant types {', '.join(unknown)}")
    if public and "client_credentials" in types:
        raise ApplicationError("a public application cannot use client_credentials")
    if "authorization_code" in types and not redirect_uris:
        raise ApplicationError("an application that signs people in needs at least one --redirect-uri")
    if signing_alg not in SIGNING_ALGS:
        raise ApplicationError(
            f"ID token algorithm {signing_alg!r}: expected one of {', '.join(SIGNING_ALGS)}"
        )
    uris = [validate_redirect_uri(uri, public=public) for uri in redirect_uris]
    logout_uris = [validate_redirect_uri(uri, public=public) for uri in post_logout_redirect_uris or []]
    if backchannel_logout_uri:
        backchannel_logout_uri = validate_backchannel_logout_uri(backchannel_logout_uri)
    secret = None if public else secrets.token_urlsafe(32)
    now = utcnow()
    application = Application(
        client_id=secrets.token_hex(16),  # hex: never starts with "-", so it is safe as a CLI argument
        name=_check_name(name),
        secret_hash=hash_secret(secret) if secret else None,
        secret_rotated_at=now if secret else None,
        token_endpoint_auth_method=method,
        first_party=first_party,
        redirect_uris={"uris": list(dict.fromkeys(uris))},
        post_logout_redirect_uris={"uris": list(dict.fromkeys(logout_uris))},
        backchannel_logout_uri=backchannel_logout_uri,
        grant_types={"types": types},
        allowed_scopes=_check_scopes(scopes),
        id_token_signed_response_alg=signing_alg,
        pairwise_subject=pairwise_subject,
        jwks=jwks,
        jwks_uri=jwks_uri,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.flush()
    return NewSecret(application, secret)


def get(session: Session, client_id: str) -> Application:
    """The application with this client id (enabled or not); raises ApplicationNotFound."""
    application = session.scalar(select(Application).where(Application.client_id == client_id))
    if application is None:
        raise ApplicationNotFound(f"There is no application with client id {client_id!r}.")
    return application


def find_enabled(session: Session, client_id: str | None) -> Application | None:
    """The enabled application for a client id presented in a protocol request, or None."""
    if not client_id or len(client_id) > 64:
        return None
    application = session.scalar(select(Application).where(Application.client_id == client_id))
    if application is None or application.disabled_at is not None:
        return None
    return application


def list_all(session: Session) -> list[Application]:
    return list(session.scalars(select(Application).order_by(Application.name, Application.id)))


def rotate_secret(session: Session, client_id: str) -> NewSecret:
    """A new client secret for a confidential application; the old one stops working at once."""
    application = get(session, client_id)
    if is_public(application):
        raise ApplicationError(f"{application.name!r} is a public application; it has no client secret")
    secret = secrets.token_urlsafe(32)
    application.secret_hash = hash_secret(secret)
    application.secret_rotated_at = application.updated_at = utcnow()
    return NewSecret(application, secret)


def disable(session: Session, client_id: str) -> Application:
    """Stop an application at once: no sign-in, token or refresh succeeds for it any more."""
    from hub.issuer import tokens

    application = get(session, client_id)
    application.disabled_at = application.disabled_at or utcnow()
    application.updated_at = utcnow()
    tokens.revoke_application(session, application.id, reason="application_disabled")
    return application


def enable(session: Session, client_id: str) -> Application:
    application = get(session, client_id)
    application.disabled_at = None
    application.updated_at = utcnow()
    return application


def delete(session: Session, client_id: str) -> Application:
    """Remove an application with its codes, grants and tokens (database cascades)."""
    application = get(session, client_id)
    session.delete(application)
    return application


def describe(application: Application) -> dict:
    """An application's public settings (never its secret or secret hash), for CLI and pages."""
    return {
        "client_id": application.client_id,
        "name": application.name,
        "public": is_public(application),
        "token_endpoint_auth_method": application.token_endpoint_auth_method,
        "token_endpoint_auth_methods": list(accepted_auth_methods(application)),
        "first_party": application.first_party,
        "redirect_uris": application.redirect_uris.get("uris", []),
        "post_logout_redirect_uris": application.post_logout_redirect_uris.get("uris", []),
        "backchannel_logout_uri": application.backchannel_logout_uri,
        "grant_types": application.grant_types.get("types", []),
        "scopes": application.allowed_scopes.split(),
        "id_token_signed_response_alg": application.id_token_signed_response_alg,
        "pairwise_subject": application.pairwise_subject,
        "jwks_uri": application.jwks_uri,
        "created_at": application.created_at.isoformat(),
        "disabled_at": application.disabled_at.isoformat() if application.disabled_at else None,
        "last_used_at": application.last_used_at.isoformat() if application.last_used_at else None,
    }
