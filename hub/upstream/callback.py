"""Finishing a sign-in or link at the provider's callback: all of it, or nothing and an audit event.

Three steps, each in its own place: claim the pending sign-in (committed at once, so it is
single-use even when what follows fails); let the provider redeem the code and validate the
identity (network, no database transaction held open); then write user, account, tokens,
session and the audit event in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from hub.core import accounts, metrics, sessions
from hub.core.audit import AuditLog, RequestContext
from hub.core.db import Database, write_transaction
from hub.core.errors import AccessDenied, HubError, ProviderDenied, SignInError
from hub.upstream import signin
from hub.upstream.protocol.authorization import check_callback_issuer
from hub.upstream.provider import ProviderType, SignInResult
from hub.upstream.vault import TokenVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Collaborators:
    """What finishing a callback works with, handed in by the caller (the sign-in view builds it
    from the runtime), so this module needs neither the runtime nor Flask."""

    db: Database
    audit: AuditLog
    vault: TokenVault
    secret_key: bytes = field(repr=False)
    """The hub's secret key: the pending sign-in's PKCE verifier and nonce derive from it."""
    session_policy: sessions.SessionPolicy
    signin_policy: Callable[..., str | None]
    """The plugins' `hub_signin_policy` hook (keywords provider_id, identity, profile, intent)."""


@dataclass(frozen=True)
class Completed:
    session_token: str
    next_path: str
    user_id: int
    intent: str


def complete(
    deps: Collaborators,
    provider: ProviderType,
    params: dict[str, str],
    *,
    browser_token: str | None,
    current: sessions.CurrentSession | None,
    previous_session_token: str | None,
    context: RequestContext,
    audit_unmatched: Callable[[str], None] | None = None,
) -> Completed:
    """Run the callback. Raises a HubError (already audited and counted) on any failure.

    A callback that matches no pending sign-in costs its sender nothing, so the view may pass
    `audit_unmatched(reason)` to audit those in aggregate (hub.web.flood) instead of one by one.
    """
    with metrics.callback_timer(provider.id):
        return _complete(
            deps, provider, params, browser_token=browser_token, current=current,
            previous_session_token=previous_session_token, context=context,
            audit_unmatched=audit_unmatched,
        )


def _complete(
    deps: Collaborators,
    provider: ProviderType,
    params: dict[str, str],
    *,
    browser_token: str | None,
    current: sessions.CurrentSession | None,
    previous_session_token: str | None,
    context: RequestContext,
    audit_unmatched: Callable[[str], None] | None,
) -> Completed:
    with write_transaction(deps.db) as session:
        pending = signin.claim(session, params.get("state"))
    intent = pending.intent if pending is not None else "signin"
    user_id = pending.user_id if pending is not None else None
    if pending is None and audit_unmatched is not None:
        try:
            signin.check_claimed(None, provider.id, params, secret_key=deps.secret_key, browser_token=browser_token)
        except HubError as error:
            audit_unmatched(error.code)
            metrics.signin_failed(provider.id, intent, error.code)
            raise
    try:
        consumed = signin.check_claimed(
            pending, provider.id, params, secret_key=deps.secret_key, browser_token=browser_token
        )
        if consumed.intent == "link" and (current is None or current.user.id != consumed.user_id):
            raise SignInError(
                "This link was started by another signed-in user, so it cannot finish here.",
                code="link_other_user",
            )
        result = _provider_result(deps, provider, consumed)
        completed = _write(deps, provider, consumed, result, current, previous_session_token, context)
    except HubError as error:
        if error.status >= 500:  # the provider failed, not the person: an operator must hear why
            log.warning("sign-in through provider %s failed: %s: %s", provider.id, error.code, error.message)
        subject = getattr(error, "subject", None)
        details = {"provider_subject": str(subject)[:256]} if subject else None
        _audit_failure(deps, provider.id, intent, user_id, error.code, context, details)
        metrics.signin_failed(provider.id, intent, error.code)
        raise
    except Exception:
        log.exception("sign-in callback for provider %s failed unexpectedly", provider.id)
        _audit_failure(deps, provider.id, intent, user_id, "internal_error", context)
        metrics.signin_failed(provider.id, intent, "internal_error")
        raise
    metrics.signin_succeeded(provider.id, completed.intent)
    return completed


def _provider_result(
    deps: Collaborators, provider: ProviderType, consumed: signin.ConsumedSignin
) -> SignInResult:
    params = consumed.callback.params
    check_callback_issuer(provider, params)  # RFC 9207, before any code is redeemed
    result = provider.complete_sign_in(consumed.callback)
    if "error" in params:  # a provider type that ignored the error answer must not sign anyone in
        raise ProviderDenied(
            f"The identity provider answered with the error {params['error'][:100]!r}.",
            code="provider_denied",
        )
    reason = deps.signin_policy(
        provider_id=provider.id,
        identity=result.identity,
        profile=result.profile,
        intent=consumed.intent,
    )
    if reason:
        raise AccessDenied(str(reason), code="policy_denied")
    return result


def _write(
    deps: Collaborators,
    provider: ProviderType,
    consumed: signin.ConsumedSignin,
    result: SignInResult,
    current: sessions.CurrentSession | None,
    previous_session_token: str | None,
    context: RequestContext,
) -> Completed:
    for attempt in (1, 2):
        try:
            with write_transaction(deps.db) as session:
                if consumed.intent == "link":
                    assert consumed.user_id is not None and previous_session_token is not None
                    who = accounts.link(session, consumed.user_id, provider.id, result)
                    token = sessions.rotate(session, previous_session_token)  # as sign-in does
                else:
                    who = accounts.sign_in(session, provider.id, result)
                    token = sessions.create(
                        session,
                        who.user_id,
                        deps.session_policy,
                        provider_id=provider.id,
                        linked_account_id=who.account_id,
                        roles=result.identity.roles,
                        provider_session_id=result.identity.session_id,
                        amr=result.identity.amr,
                        acr=result.identity.acr,
                        ip=context.ip,
                        user_agent=context.user_agent,
                        replaces=previous_session_token,
                    )
                deps.vault.store(session, who.account_id, result.tokens, provider.requested_scopes)
                deps.audit.record(
                    session,
                    consumed.intent,
                    "success",
                    actor_user_id=who.user_id,
                    subject_user_id=who.user_id,
                    provider_id=provider.id,
                    context=context,
                    details={
                        "linked_account_id": who.account_id,
                        "roles": sorted(result.identity.roles),
                        **({"first_sign_in": who.first} if consumed.intent == "signin" else {}),
                    },
                )
            return Completed(token, consumed.next_path, who.user_id, consumed.intent)
        except IntegrityError:
            # Two first sign-ins of one person raced (PostgreSQL): the unique (provider,
            # subject) key let one win; the retry finds its account.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _audit_failure(
    deps: Collaborators,
    provider_id: str,
    intent: str,
    user_id: int | None,
    reason: str,
    context: RequestContext,
    details: dict[str, str] | None = None,
) -> None:
    deps.audit.record_failure(
        deps.db,
        intent,
        reason=reason,
        actor_user_id=user_id,
        subject_user_id=user_id,
        provider_id=provider_id,
        context=context,
        details=details,
    )
