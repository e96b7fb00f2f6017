"""What an administrator can do to a user, each in one transaction with its audit event.

Every action is a function (runtime, acting admin, target ids, request context) that either
commits the change together with an `admin.*` success event, or raises a HubError after
writing an `admin.*` failure event in its own transaction, so a refused action leaves a trace
and changes nothing. Views only check the form and call these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import accounts, sessions
from hub.core.audit import RequestContext, clean_text
from hub.core.db import write_transaction
from hub.core.errors import HubError, NotFound
from hub.core.models import LinkedAccount, TokenSet, User, utcnow
from hub.issuer import tokens as issuer_tokens
from hub.runtime import Runtime
from hub.upstream.revocation import revoke_at_provider

log = logging.getLogger(__name__)

ACTIONS: dict[str, str] = {
    "unlink": "Unlink",
    "revoke_tokens": "Revoke tokens",
    "disable_user": "Disable user",
    "enable_user": "Enable user",
    "signout_everywhere": "Sign out everywhere",
    "grant": "Make administrator",
    "revoke": "Remove administrator",
}
"""Action name (audit type `admin.<name>`) -> the button label."""

ACCOUNT_ACTIONS = frozenset({"unlink", "revoke_tokens"})
"""Actions that name a linked account of the user as well."""


class ActionRefused(HubError):
    """The action does not apply (yourself, already done, last account): nothing changed."""

    code = "admin_action_refused"
    status = 409
    title = "This action was not carried out"
    hint = "Nothing was changed. Go back to the user's page."


@dataclass(frozen=True)
class Actor:
    """The acting administrator and where the request came from."""

    user_id: int
    context: RequestContext


def perform(
    rt: Runtime, action: str, actor: Actor, user_id: int, account_id: int | None, *, confirmed: bool
) -> str:
    """Run one action; returns a sentence saying what happened. Raises after auditing a failure.

    `confirmed` is the form's explicit second step: a request without it (a forged or
    replayed form, a mis-click) is refused and audited, and changes nothing.
    """
    handler = _HANDLERS.get(action)
    if handler is None:
        raise NotFound(f"There is no admin action {action[:40]!r}.")
    provider_id: str | None = None
    try:
        if not confirmed:
            raise ActionRefused(
                "This action was not confirmed.",
                code="not_confirmed",
                hint="Use the action's button on the user's page and confirm on the next page.",
            )
        if action in ACCOUNT_ACTIONS:
            if account_id is None:
                raise ActionRefused("Choose which linked account this action is for.")
            provider_id, outcome = handler(rt, actor, user_id, account_id)
        else:
            provider_id, outcome = handler(rt, actor, user_id, None)
    except HubError as error:
        rt.audit.record_failure(
            rt.db,
            f"admin.{action}",
            reason=error.code,
            actor_user_id=actor.user_id,
            subject_user_id=user_id,
            provider_id=provider_id,
            context=actor.context,
            details={"linked_account_id": account_id, "message": clean_text(error.message, 200)},
        )
        raise
    return outcome


def _record(
    rt: Runtime, session: Session, action: str, actor: Actor, user_id: int, provider_id: str | None = None, **details: Any
) -> None:
    rt.audit.record(
        session,
        f"admin.{action}",
        "success",
        actor_user_id=actor.user_id,
        subject_user_id=user_id,
        provider_id=provider_id,
        context=actor.context,
        details=details,
    )


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.", hint="Find the user in the linked accounts list.")
    return user


def _account(session: Session, user_id: int, account_id: int) -> LinkedAccount:
    """The account, only if it belongs to this user (the form names both)."""
    account = session.get(LinkedAccount, account_id)
    if account is None or account.user_id != user_id:
        raise NotFound(f"User {user_id} has no linked account {account_id}.", hint="Reload the user's page.")
    return account


# --- linked accounts ----------------------------------------------------------------------------


def _unlink(rt: Runtime, actor: Actor, user_id: int, account_id: int | None) -> tuple[str | None, str]:
    assert account_id is not None
    with rt.db.session() as session:
        provider_id = _account(session, user_id, account_id).provider_id
        # Refuse the last account before touching the provider (accounts.unlink checks again).
        if len(session.scalars(select(LinkedAccount.id).where(LinkedAccount.user_id == user_id)).all()) <= 1:
            raise accounts.CannotUnlink(
                "This is the user's last linked account, so it cannot be unlinked: they could never sign in again.",
                hint="Disable the user instead, or wait until they link another account.",
            )
    revocation = revoke_at_provider(rt.db, rt.vault, rt.providers, account_id, provider_id)
    with write_transaction(rt.db) as session:
        account = _account(session, user_id, account_id)
        ended = accounts.unlink(session, account)
        _record(
            rt, session, "unlink", actor, user_id, provider_id,
            linked_account_id=account_id, provider_revocation=revocation, sessions_ended=ended,
        )
    return provider_id, f"The {provider_id} account was unlinked, its tokens deleted ({revocation}) and {ended} session(s) through it ended."


def _revoke_tokens(rt: Runtime, actor: Actor, user_id: int, account_id: int | None) -> tuple[str | None, str]:
    assert account_id is not None
    with rt.db.session() as session:
        provider_id = _account(session, user_id, account_id).provider_id
        if session.scalar(select(TokenSet.id).where(TokenSet.linked_account_id == account_id)) is None:
            raise ActionRefused("This linked account has no stored tokens to revoke.")
    revocation = revoke_at_provider(rt.db, rt.vault, rt.providers, account_id, provider_id)
    with write_transaction(rt.db) as session:
        _account(session, user_id, account_id)
        token_set = session.scalar(select(TokenSet).where(TokenSet.linked_account_id == account_id))
        if token_set is not None:
            session.delete(token_set)
        ended = len(sessions.end_sessions(session, linked_account_id=account_id, reason="revoke_tokens"))
        _record(
            rt, session, "revoke_tokens", actor, user_id, provider_id,
            linked_account_id=account_id, provider_revocation=revocation, sessions_ended=ended,
        )
    return provider_id, (
        f"The stored tokens of the {provider_id} account were deleted ({revocation}) and {ended} session(s) "
        "through it ended. The user signs in again to store new ones."
    )


# --- the user ------------------------------------------------------------------------------------


def _not_yourself(actor: Actor, user_id: int, what: str) -> None:
    if actor.user_id == user_id:
        raise ActionRefused(
            f"You cannot {what} yourself: the hub would lock out the administrator making the change.",
            hint="Ask another administrator to do it.",
        )


def _disable(rt: Runtime, actor: Actor, user_id: int, _account_id: int | None) -> tuple[str | None, str]:
    _not_yourself(actor, user_id, "disable")
    with write_transaction(rt.db) as session:
        user = _user(session, user_id)
        if user.disabled_at is not None:
            raise ActionRefused("This user is already disabled.")
        user.disabled_at = utcnow()
        ended = len(sessions.end_sessions(session, user_id=user_id, reason="user_disabled"))
        # Offline refresh tokens outlive hub sessions: revoke them too, so enabling the user
        # again never revives an application's access the person did not grant anew.
        revoked = issuer_tokens.revoke_user(session, user_id, "user_disabled")
        _record(rt, session, "disable_user", actor, user_id, sessions_ended=ended, application_grants_revoked=revoked)
    return None, (
        f"The user was disabled, {ended} session(s) ended and {revoked} application token grant(s) revoked. "
        "They cannot sign in until enabled."
    )


def _enable(rt: Runtime, actor: Actor, user_id: int, _account_id: int | None) -> tuple[str | None, str]:
    with write_transaction(rt.db) as session:
        user = _user(session, user_id)
        if user.disabled_at is None:
            raise ActionRefused("This user is not disabled.")
        user.disabled_at = None
        _record(rt, session, "enable_user", actor, user_id)
    return None, "The user was enabled and can sign in again."


def _signout(rt: Runtime, actor: Actor, user_id: int, _account_id: int | None) -> tuple[str | None, str]:
    with write_transaction(rt.db) as session:
        _user(session, user_id)
        ended = len(sessions.end_sessions(session, user_id=user_id, reason="signout_everywhere"))
        _record(rt, session, "signout_everywhere", actor, user_id, sessions_ended=ended)
    suffix = " You signed yourself out too." if actor.user_id == user_id else ""
    return None, f"{ended} session(s) ended.{suffix}"


def _grant(rt: Runtime, actor: Actor, user_id: int, _account_id: int | None) -> tuple[str | None, str]:
    with write_transaction(rt.db) as session:
        user = _user(session, user_id)
        if user.is_admin:
            raise ActionRefused("This user already holds the administrator role granted by the hub.")
        user.is_admin = True
        _record(rt, session, "grant", actor, user_id, via="console")
    return None, "The user is now an administrator (from their next page view)."


def _revoke(rt: Runtime, actor: Actor, user_id: int, _account_id: int | None) -> tuple[str | None, str]:
    _not_yourself(actor, user_id, "remove the administrator role from")
    with write_transaction(rt.db) as session:
        user = _user(session, user_id)
        if not user.is_admin:
            raise ActionRefused(
                "This user does not hold the administrator role granted by the hub.",
                hint="If they are an administrator through a provider's role, change it at the provider.",
            )
        user.is_admin = False
        _record(rt, session, "revoke", actor, user_id, via="console")
    return None, "The hub's administrator role was removed. A provider's admin role, if any, still admits them."


_HANDLERS: dict[str, Callable[[Runtime, Actor, int, int | None], tuple[str | None, str]]] = {
    "unlink": _unlink,
    "revoke_tokens": _revoke_tokens,
    "disable_user": _disable,
    "enable_user": _enable,
    "signout_everywhere": _signout,
    "grant": _grant,
    "revoke": _revoke,
}
