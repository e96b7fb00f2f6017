"""Local users and their linked accounts: find or create at sign-in, link, unlink.

An account is found only by (provider id, subject), never by email: matching on email lets
anyone who controls a mailbox name at some provider take over a local user (nOAuth).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.errors import AccessDenied, HubError
from hub.models import LinkedAccount, User, utcnow
from hub.provider import SignInResult


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


def sign_in(session: Session, provider_id: str, result: SignInResult) -> tuple[User, LinkedAccount]:
    """The user behind this identity, created at the first sign-in; profile refreshed after."""
    account = find_account(session, provider_id, result.identity.subject)
    if account is None:
        user = User(display_name=result.profile.display_name, email=result.profile.email)
        session.add(user)
        account = _new_account(user, provider_id, result)
        session.add(account)
    else:
        user = account.user
        if user.disabled_at is not None:
            raise AccessDenied("This user has been disabled.", code="user_disabled")
        _refresh_account(account, result)
        user.display_name = user.display_name or result.profile.display_name
        user.email = user.email or result.profile.email
    now = utcnow()
    user.last_sign_in_at = account.last_sign_in_at = now
    session.flush()
    return user, account


def link(session: Session, user_id: int, provider_id: str, result: SignInResult) -> tuple[User, LinkedAccount]:
    """Attach this identity to the user who started the link; refuse one owned by someone else."""
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
    return user, account


def check_unlinkable(session: Session, account: LinkedAccount) -> None:
    """Refuse to remove the user's last way to sign in."""
    remaining = session.scalar(
        select(func.count()).select_from(LinkedAccount).where(LinkedAccount.user_id == account.user_id)
    )
    if (remaining or 0) <= 1:
        raise CannotUnlink(
            "This is the last account this user can sign in with, so it cannot be unlinked.",
            hint="Link another account first.",
        )


def unlink(session: Session, account: LinkedAccount) -> None:
    """Remove a linked account and its tokens. Never the user's last way to sign in."""
    check_unlinkable(session, account)
    session.delete(account)
    session.flush()


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
    profile = result.profile
    account.display_name = profile.display_name
    account.email = profile.email
    account.email_verified = profile.email_verified
    account.roles = {"roles": sorted(result.identity.roles)}
    account.profile = {
        key: value
        for key, value in {
            "given_name": profile.given_name,
            "family_name": profile.family_name,
            "job_title": profile.job_title,
            "username": profile.username,
            **dict(profile.extra),
        }.items()
        if value is not None
    }
    account.needs_reauth = False
