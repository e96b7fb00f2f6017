"""Revoking a linked account's stored tokens at its provider, best effort, before the hub deletes them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from hub.core.db import Database
from hub.core.errors import HubError
from hub.core.models import TokenSet
from hub.upstream.provider import ProviderType
from hub.upstream.vault import TokenVault

log = logging.getLogger(__name__)


def revoke_at_provider(
    db: Database, vault: TokenVault, providers: Mapping[str, ProviderType], account_id: int, provider_id: str
) -> str:
    """Ask the provider to revoke the account's stored tokens; the answer, never the tokens.

    `providers` are the providers this process runs (Runtime.providers); an account whose
    provider is not among them is answered "provider not installed". Best effort by design: the
    hub deletes its copy whatever the provider says, and a provider that is down must not stop
    anyone from cutting the hub's access.
    """
    provider = providers.get(provider_id)
    if provider is None:
        return "provider not installed"
    with db.session() as session:
        token_set = session.scalar(select(TokenSet).where(TokenSet.linked_account_id == account_id))
        if token_set is None:
            return "no tokens stored"
        try:
            tokens = vault.read(token_set)
        except HubError as error:
            return f"stored tokens unreadable ({error.code})"
    try:
        provider.revoke(tokens)
    except Exception as error:  # a provider failure is reported, never fatal
        log.warning("provider %s did not revoke tokens of linked account %s: %s", provider_id, account_id, type(error).__name__)
        code = error.code if isinstance(error, HubError) else type(error).__name__
        return f"provider revocation failed ({code})"
    return "revoked at the provider"
