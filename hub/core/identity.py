"""Who a provider says signed in, and what it handed over: the identity values the core and the provider types share.

Plain values, no behaviour: hub.core.accounts links and updates accounts from them, the vault
seals the tokens, and provider types (hub.upstream.provider, whose v1 name `hub.provider`
re-exports every one of these classes) build them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Identity:
    """Who the provider says this is. `subject` is the linking key."""

    subject: str
    """Immutable and never reassigned by the provider: for Entra `tid` and `oid`, for GitHub
    the numeric id. Never an email address, UPN or login name."""
    issuer: str
    tenant: str | None = None
    roles: frozenset[str] = frozenset()
    """Hub roles (for example `admin`) the provider's configuration maps from its claims."""
    session_id: str | None = None
    """The provider's session id (`sid`), used to match provider-side sign-outs."""
    amr: tuple[str, ...] = ()
    """How the person authenticated at the provider (OpenID Connect `amr`, e.g. `pwd`, `mfa`),
    when the provider said; passed on in the ID tokens the hub issues to applications."""
    acr: str | None = None
    """The authentication context class the provider reported (OpenID Connect `acr`), if any."""


@dataclass(frozen=True)
class Profile:
    """Display data. Never used to identify or link an account."""

    display_name: str | None = None
    email: str | None = None
    email_verified: bool = False
    given_name: str | None = None
    family_name: str | None = None
    job_title: str | None = None
    username: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tokens:
    """A token response. repr hides every secret so a stray log line cannot leak one."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignInResult:
    identity: Identity
    profile: Profile
    tokens: Tokens


@dataclass(frozen=True)
class RefreshResult:
    tokens: Tokens
    identity: Identity | None = None
    """The identity from a refreshed ID token, when the provider sent one; the provider has
    already checked that it names the same person as `previous`."""
