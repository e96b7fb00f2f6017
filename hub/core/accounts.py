"""Local users and their linked accounts: find or create at sign-in, link, unlink.

An account is found only by (provider id, subject), never by email: matching on email lets
anyone who controls a mailbox name at some provider take over a local user (nOAuth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from hub.core import sessions
from hub.core.errors import AccessDenied, HubError, TokenRejected
from hub.core.identity import Identity, SignInResult
from hub.core.models import LinkedAccount, User, clip, column_length, utcnow


class CannotUnlink(HubError):
    code = "unlink_refused"
    status = 409
    title = "This account cannot be unlinked"


def find_account(session: Session, provider_id: str, subject: str) -> LinkedAccount | None:
    return session.scalar(
        select(LinkedAccount).where(
            LinkedAccount.provider_id == provider_id, LinkedAccount.subject == subject
        )
    )


@dataclass(frozen=True)
class SignedIn:
    """Who a sign-in or link resolved to: the local user, the linked account, and whether this
    sign-in created them."""

    user_id: int
    account_id: int
    first: bool = False


def sign_in(session: Session, provider_id: str, result: SignInResult) -> SignedIn:
    """The user behind this identity, created at the first sign-in; profile refreshed after.

    A returning person (nearly every sign-in) costs one joined read and two updates as Core
    statements built once: the ORM's loading and unit of work cost more CPU than the SQL.
    """
    check_identity_fits(result.identity)
    connection = session.connection()
    found = connection.execute(
        _ACCOUNT_WITH_USER, {"provider_id": provider_id, "subject": result.identity.subject}
    ).first()
    if found is None:
        return _first_sign_in(session, provider_id, result)
    if found.disabled_at is not None:
        raise AccessDenied("This user has been disabled.", code="user_disabled")
    now = utcnow()
    fields = {f"new_{name}": value for name, value in _account_fields(result).items()}
    connection.execute(_REFRESH_ACCOUNT, {"account_id": found.id, "now": now, **fields})
    connection.execute(
        _TOUCH_USER,
        {
            "user_id": found.user_id,
            "now": now,
            "new_display_name": clip(User.display_name, result.profile.display_name),
            "new_email": _address(User.email, result.profile.email),
        },
    )
    return SignedIn(found.user_id, found.id)


def _first_sign_in(session: Session, provider_id: str, result: SignInResult) -> SignedIn:
    user = User(
        display_name=clip(User.display_name, result.profile.display_name),
        email=_address(User.email, result.profile.email),
    )
    session.add(user)
    account = _new_account(user, provider_id, result)
    session.add(account)
    user.last_sign_in_at = account.last_sign_in_at = utcnow()
    session.flush()  # the new rows' ids
    return SignedIn(user.id, account.id, first=True)


def link(session: Session, user_id: int, provider_id: str, result: SignInResult) -> SignedIn:
    """Attach this identity to the user who started the link; refuse one owned by someone else."""
    check_identity_fits(result.identity)
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        raise AccessDenied("The user who started this link no longer exists or is disabled.", code="user_disabled")
    account = find_account(session, provider_id, result.identity.subject)
    if account is not None and account.user_id != user.id:
        raise AccessDenied(
            "That account is already linked to another user of this hub. Accounts are never "
            "moved or merged automatically.",
            code="account_linked_elsewhere",
            hint="Sign in with that account to use it, or ask an administrator to unlink it first.",
        )
    if account is None:
        account = _new_account(user, provider_id, result)
        session.add(account)
    else:
        _refresh_account(account, result)
    account.last_sign_in_at = utcnow()
    session.flush()
    return SignedIn(user.id, account.id)


def check_unlinkable(session: Session, account: LinkedAccount) -> None:
    """Refuse to remove the user's last way to sign in.

    The user's row is locked first (SELECT ... FOR UPDATE; SQLite's write transaction holds
    the database lock already), so two unlinks of a user's two accounts at once are counted
    one after the other: without it both counted 2 on PostgreSQL and the user was left with
    no account at all.
    """
    session.execute(select(User.id).where(User.id == account.user_id).with_for_update())
    remaining = session.scalar(
        select(func.count()).select_from(LinkedAccount).where(LinkedAccount.user_id == account.user_id)
    )
    if (remaining or 0) <= 1:
        raise CannotUnlink(
            "This is the last linked account this user can sign in with, so it cannot be unlinked.",
            hint="Link another account first.",
        )


def unlink(session: Session, account: LinkedAccount) -> int:
    """Remove a linked account and its tokens, and end the sessions that signed in through it
    (they carry the roles that account gave). Never the user's last way to sign in.
    Returns how many sessions ended."""
    check_unlinkable(session, account)
    ended = sessions.end_sessions(session, linked_account_id=account.id, reason="unlink")
    session.delete(account)
    session.flush()
    return len(ended)


def check_identity_fits(identity: Identity) -> None:
    """Refuse an identity whose subject, issuer or tenant exceeds its column: cutting an
    identifier could make it another person's, so it is never clipped like display text."""
    for attribute, value in (
        (LinkedAccount.subject, identity.subject),
        (LinkedAccount.issuer, identity.issuer),
        (LinkedAccount.tenant, identity.tenant),
    ):
        length = column_length(attribute)
        if value is not None and length is not None and len(value) > length:
            raise TokenRejected(
                f"The provider's {attribute.key} is {len(value)} characters long; the hub accepts "
                f"at most {length}, so it cannot keep this account apart from others.",
                code="identity_too_long",
            )


def _address(attribute: object, value: str | None) -> str | None:
    """An address that does not fit its column is dropped, not cut: a cut address is another."""
    length = column_length(attribute)
    return None if value is None or (length is not None and len(value) > length) else value


def _new_account(user: User, provider_id: str, result: SignInResult) -> LinkedAccount:
    account = LinkedAccount(
        user=user,
        provider_id=provider_id,
        subject=result.identity.subject,
        issuer=result.identity.issuer,
        tenant=result.identity.tenant,
    )
    _refresh_account(account, result)
    return account


def _refresh_account(account: LinkedAccount, result: SignInResult) -> None:
    for name, value in _account_fields(result).items():
        setattr(account, name, value)


def _account_fields(result: SignInResult) -> dict[str, Any]:
    """What each sign-in refreshes on the account from the provider's profile. Fresh tokens
    make the account healthy again, so `needs_reauth` is cleared too."""
    profile = result.profile
    email = _address(LinkedAccount.email, profile.email)
    return {
        "display_name": clip(LinkedAccount.display_name, profile.display_name),
        "email": email,
        "email_verified": bool(profile.email_verified and email is not None),
        "roles": sorted(result.identity.roles),
        "profile": {
            key: value
            for key, value in {
                "given_name": profile.given_name,
                "family_name": profile.family_name,
                "job_title": profile.job_title,
                "username": profile.username,
                **dict(profile.extra),
            }.items()
            if value is not None
        },
        "needs_reauth": False,
    }


# A returning sign-in's statements, built once (see sign_in).
_ACCOUNTS = LinkedAccount.__table__
_USERS = User.__table__
_ACCOUNT_WITH_USER = (
    select(_ACCOUNTS.c.id, _ACCOUNTS.c.user_id, _USERS.c.disabled_at)
    .join_from(_ACCOUNTS, _USERS, _USERS.c.id == _ACCOUNTS.c.user_id)
    .where(_ACCOUNTS.c.provider_id == bindparam("provider_id"), _ACCOUNTS.c.subject == bindparam("subject"))
)
_REFRESH_ACCOUNT = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account_id"))
    .values(
        last_sign_in_at=bindparam("now", type_=_ACCOUNTS.c.last_sign_in_at.type),
        **{
            name: bindparam(f"new_{name}", type_=_ACCOUNTS.c[name].type)
            for name in ("display_name", "email", "email_verified", "roles", "profile", "needs_reauth")
        },
    )
)
_TOUCH_USER = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("user_id"))
    .values(
        last_sign_in_at=bindparam("now", type_=_USERS.c.last_sign_in_at.type),
        # A name or address the user lacks is filled in from the profile, never overwritten.
        display_name=func.coalesce(
            func.nullif(_USERS.c.display_name, ""), bindparam("new_display_name", type_=_USERS.c.display_name.type)
        ),
        email=func.coalesce(func.nullif(_USERS.c.email, ""), bindparam("new_email", type_=_USERS.c.email.type)),
    )
)
