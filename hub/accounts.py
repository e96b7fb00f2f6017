"""Local users and their linked accounts: find or create at sign-in, link, unlink.

An account is found only by (provider id, subject), never by email: matching on email lets
anyone who controls a mailbox name at some provider take over a local user (nOAuth).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from hub import sessions
from hub.errors import AccessDenied, HubError, TokenRejected
from hub.models import LinkedAccount, User, clip, column_length, utcnow
from hub.provider import Identity, SignInResult


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


def sign_in(session: Session, provider_id: str, result: SignInResult) -> tuple[User, LinkedAccount, bool]:
    """The user behind this identity, created at the first sign-in (the flag says whether this
    is it); profile refreshed after."""
    check_identity_fits(result.identity)
    account = session.scalar(  # with its user: one query instead of two
        select(LinkedAccount)
        .where(LinkedAccount.provider_id == provider_id, LinkedAccount.subject == result.identity.subject)
        .options(joinedload(LinkedAccount.user, innerjoin=True))
    )
    first = account is None
    if account is None:
        user = User(
            display_name=clip(User.display_name, result.profile.display_name),
            email=_address(User.email, result.profile.email),
        )
        session.add(user)
        account = _new_account(user, provider_id, result)
        session.add(account)
    else:
        user = account.user
        if user.disabled_at is not None:
            raise AccessDenied("This user has been disabled.", code="user_disabled")
        _refresh_account(account, result)
        user.display_name = user.display_name or clip(User.display_name, result.profile.display_name)
        user.email = user.email or _address(User.email, result.profile.email)
    now = utcnow()
    user.last_sign_in_at = account.last_sign_in_at = now
    if first:
        session.flush()  # the new rows' ids; an existing account's changes go with the next flush
    return user, account, first


def link(session: Session, user_id: int, provider_id: str, result: SignInResult) -> tuple[User, LinkedAccount]:
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
    return user, account


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
            "This is the last account this user can sign in with, so it cannot be unlinked.",
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
    profile = result.profile
    account.display_name = clip(LinkedAccount.display_name, profile.display_name)
    account.email = _address(LinkedAccount.email, profile.email)
    account.email_verified = profile.email_verified and account.email is not None
    account.roles = sorted(result.identity.roles)
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
