"""Handing a person's upstream access token to a caller: a back-end service with an API key
(`api_key.use`) or an application with the person's hub access token (`provider_token.use`).

One implementation for both: the provider must be running, the token comes from the vault
(refreshed single-flight when near expiry, so never an expired one), and the hand-out is one
success event naming the caller (its kind and identity), the account and `via="api"`. A refusal
is raised to the caller, which audits it in aggregate (hub.web.flood): anyone holding a key or a
token can send refused requests as fast as they like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.actions.audited import Actor, record
from hub.core.audit import AuditLog, RequestContext
from hub.core.db import Database, write_transaction
from hub.core.models import LinkedAccount
from hub.upstream.provider import ProviderType
from hub.upstream.vault import AccessToken, TokenVault, provider_not_running

CallerKind = Literal["api_key", "application"]

EVENTS: dict[CallerKind, str] = {"api_key": "api_key.use", "application": "provider_token.use"}
"""The audit event type of a hand-out, by the kind of caller (stable names the log already uses)."""


@dataclass(frozen=True)
class Caller:
    """Who receives the token: its kind and what identifies it in the audit log (never a secret)."""

    kind: CallerKind
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> str:
        return EVENTS[self.kind]

    def details(self, linked_account_id: int | None = None) -> dict[str, Any]:
        """The event's details, the same for a hand-out and for the caller's refusal event."""
        return {**self.identity, "caller": self.kind, "linked_account_id": linked_account_id, "via": "api"}


def hand_out(
    db: Database,
    audit: AuditLog,
    vault: TokenVault,
    providers: Mapping[str, ProviderType],
    caller: Caller,
    account: LinkedAccount,
    context: RequestContext | None = None,
) -> AccessToken:
    """A valid access token of the account for the caller, audited; raises (unaudited here) when
    the provider is not running or the token cannot be had (the vault audits its own failures)."""
    if account.provider_id not in providers:
        raise provider_not_running(account.provider_id, account.id)
    token = vault.access_token(db, account.id, providers, audit, context)
    with write_transaction(db) as session:
        record(
            audit, session, caller.event, Actor(None, "api", context),
            subject_user_id=account.user_id, provider_id=account.provider_id, **caller.details(account.id),
        )
    return token
