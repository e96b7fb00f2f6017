"""Choosing a person: by user id or by (provider id, subject), never by email address.

An address comes from a provider's profile and is usually unverified (Entra's `mail` is what
a tenant administrator typed, for anyone), so "the user with this email" is whoever signed in
first with it: in the demo, Mallory of Fabrikam, whose `mail` is Alice's address (nOAuth).
Where a person types an address (the CLI), the hub lists every account that shows it, with
its provider, tenant, subject and whether the provider verified it, and asks for the user id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.errors import HubError, NotFound
from hub.core.models import LinkedAccount, User
from hub.core.parsing import parse_id


class NotAnIdentity(HubError):
    """An email address was given where a person must be named; lists who shows that address."""

    code = "email_not_identity"
    status = 400
    title = "An email address does not identify a person"
    hint = "Give the user id (the first column above)."

    def __init__(self, address: str, matches: list[EmailMatch]) -> None:
        self.matches = matches
        if matches:
            lines = "\n".join(f"  {match.describe()}" for match in matches)
            listing = f"Accounts that show this address:\n{lines}"
        else:
            listing = "No linked account shows this address."
        super().__init__(
            f"{address!r} is an email address, and an address never selects a person: providers "
            f"let people put any address in their profile, so the first to sign in with it could "
            f"be anyone.\n{listing}\nRun the command again with the user id."
        )


@dataclass(frozen=True)
class EmailMatch:
    """One linked account showing an address, with what an operator needs to tell them apart."""

    user_id: int
    display_name: str | None
    provider_id: str
    tenant: str | None
    subject: str
    email: str
    email_verified: bool

    def describe(self) -> str:
        verified = "verified by the provider" if self.email_verified else "NOT verified by the provider"
        return (
            f"user {self.user_id}  {self.display_name or '(no name)'}  provider {self.provider_id}  "
            f"tenant {self.tenant or '-'}  subject {self.subject}  {self.email} ({verified})"
        )


def email_matches(session: Session, address: str) -> list[EmailMatch]:
    """Every linked account whose profile shows this address (case-insensitive), by user id."""
    rows = session.execute(
        select(
            LinkedAccount.user_id,
            User.display_name,
            LinkedAccount.provider_id,
            LinkedAccount.tenant,
            LinkedAccount.subject,
            LinkedAccount.email,
            LinkedAccount.email_verified,
        )
        .join(User, User.id == LinkedAccount.user_id)
        .where(func.lower(LinkedAccount.email) == address.strip().lower())
        .order_by(LinkedAccount.user_id, LinkedAccount.id)
    ).all()
    return [EmailMatch(*row) for row in rows]


def find_user(session: Session, who: str) -> User:
    """The user named by `who`: a user id, or `PROVIDER_ID:SUBJECT` of one of their accounts.

    An email address raises NotAnIdentity listing the accounts that show it.
    """
    who = who.strip()
    if "@" in who and ":" not in who:
        raise NotAnIdentity(who, email_matches(session, who))
    provider_id, colon, subject = who.partition(":")
    if colon:  # provider ids have no colon, so the first one separates
        account = session.scalar(
            select(LinkedAccount).where(LinkedAccount.provider_id == provider_id, LinkedAccount.subject == subject)
        )
        if account is None:
            raise NotFound(f"No linked account {subject!r} at provider {provider_id!r}.")
        return account.user
    user = session.get(User, parse_id(who, "who (a user id, or PROVIDER_ID:SUBJECT)", error=NotFound))
    if user is None:
        raise NotFound(f"There is no user {who}; `hub admin list` shows the administrators.")
    return user


def user_email_verified(user: User) -> bool:
    """Whether one of the user's providers verified the user's address (users.email is copied
    from the first sign-in's profile, verified or not)."""
    return verified_by_any(user.email, user.linked_accounts)


def verified_by_any(address: str | None, accounts: Iterable[LinkedAccount]) -> bool:
    """Whether one of these linked accounts' providers verified exactly this address."""
    if not address:
        return False
    wanted = address.lower()
    return any(account.email_verified and (account.email or "").lower() == wanted for account in accounts)
