"""What an application learns about a person: the claims of ID tokens and userinfo, by scope.

`sub` is the hub user's public subject identifier, or a pairwise value per application when
the application asks for it. `email_verified` is true only when a linked account's provider verified that very
address. Plugins may add or change claims through the `hub_token_claims` hook, except the
protected ones that carry the protocol's guarantees.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.models import Application, LinkedAccount, User

log = logging.getLogger(__name__)

PROTECTED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "sid", "azp", "at_hash", "c_hash", "jti",
     "client_id", "scope", "idp"}
)
"""Claims a `hub_token_claims` plugin may not add, change or remove."""

CLAIMS_SUPPORTED = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "azp", "amr", "acr", "idp",
                    "name", "email", "email_verified", "roles")
"""Discovery's claims_supported: every claim an ID token may carry (amr and acr when the
upstream provider gave them)."""


@dataclass(frozen=True)
class ApplicationView:
    """The application a token is for, as plugins see it (no secrets, no database row)."""

    client_id: str
    name: str
    first_party: bool


@dataclass(frozen=True)
class UserView:
    """The person a token is about, as plugins see it. `email` is display data, never identity."""

    id: int
    display_name: str | None
    email: str | None
    email_verified: bool
    roles: tuple[str, ...]
    provider_id: str | None
    """The provider the person signed in with for this session (the `idp` claim)."""


def subject_for(user_id: int, public_subject: str, application: Application, secret_key: bytes) -> str:
    """The `sub` an application sees: the user's public subject identifier (random, never
    reused: hub.core.models.User.public_subject), or for a pairwise application an HMAC per
    application (OIDC Core §8.1), so two pairwise applications cannot join their users. The
    pairwise value is derived from the database id, as it always was, so it stays stable."""
    if not application.pairwise_subject:
        return public_subject
    mac = hmac.new(secret_key, f"pairwise-sub\n{application.client_id}\n{user_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def hub_roles(session: Session, user: User) -> tuple[str, ...]:
    """The user's hub roles: the admin flag and the roles providers mapped at the last sign-ins."""
    roles: set[str] = {"admin"} if user.is_admin else set()
    for mapped in session.scalars(select(LinkedAccount.roles).where(LinkedAccount.user_id == user.id)):
        roles.update(str(role) for role in mapped or [])
    return tuple(sorted(roles))


def email_verified(session: Session, user: User) -> bool:
    """True only if a linked account's provider verified exactly this user's address."""
    if not user.email:
        return False
    verified = session.scalars(
        select(LinkedAccount.email).where(LinkedAccount.user_id == user.id, LinkedAccount.email_verified.is_(True))
    )
    return any((email or "").lower() == user.email.lower() for email in verified)


def user_view(session: Session, user: User, provider_id: str | None) -> UserView:
    return UserView(
        id=user.id,
        display_name=user.display_name,
        email=user.email,
        email_verified=email_verified(session, user),
        roles=hub_roles(session, user),
        provider_id=provider_id,
    )


def application_view(application: Application) -> ApplicationView:
    return ApplicationView(application.client_id, application.name, application.first_party)


def scoped_claims(person: UserView, scopes: list[str]) -> dict[str, Any]:
    """The claims the granted scopes allow (sub and the protocol claims are added by callers)."""
    claims: dict[str, Any] = {}
    if "profile" in scopes and person.display_name:
        claims["name"] = person.display_name
    if "email" in scopes and person.email:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified
    if "roles" in scopes:
        claims["roles"] = list(person.roles)
    return claims


def apply_plugins(
    hook: pluggy.HookRelay, application: ApplicationView, person: UserView, scopes: list[str], claims: dict[str, Any]
) -> dict[str, Any]:
    """Let `hub_token_claims` implementations add, replace (a value) or remove (None) claims."""
    results = hook.hub_token_claims(application=application, user=person, scopes=list(scopes), claims=dict(claims))
    for result in results:
        if not result:
            continue
        for name, value in dict(result).items():
            if name in PROTECTED_CLAIMS:
                log.warning("a hub_token_claims plugin tried to set the protected claim %r; ignored", name)
                continue
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
    return claims
