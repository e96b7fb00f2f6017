"""Changes to SCIM tokens: create one for a provider (its secret returned once) and revoke one, audited."""

from __future__ import annotations

from hub.actions.audited import ActionRefused, Actor, record, refusals_audited
from hub.core import scim_tokens
from hub.core.audit import AuditLog, clean_text
from hub.core.db import Database, write_transaction
from hub.core.models import ScimToken
from hub.core.parsing import MAX_ID


def create(db: Database, audit: AuditLog, actor: Actor, provider_id: str, known: set[str], name: str) -> scim_tokens.NewScimToken:
    """A token for `provider_id`'s SCIM endpoint; `known` are the configured providers."""
    with refusals_audited(db, audit, "scim.token_create", actor, name=clean_text(name, 128)) as trace:
        trace.provider_id = provider_id[:64]
        if provider_id not in known:
            raise ActionRefused(
                f"There is no provider {provider_id[:64]!r} to provision.", hint="`hub providers list` shows them."
            )
        with write_transaction(db) as session:
            created = scim_tokens.create(session, provider_id, name)
            record(
                audit, session, "scim.token_create", actor, provider_id=provider_id,
                scim_token_id=created.row.id, name=created.row.name,
            )
    return created


def revoke(db: Database, audit: AuditLog, actor: Actor, token_id: int) -> ScimToken:
    """Stop the token at once."""
    with refusals_audited(db, audit, "scim.token_revoke", actor, scim_token_id=token_id), write_transaction(db) as session:
        token = session.get(ScimToken, min(token_id, MAX_ID))
        if token is not None and token.revoked_at is not None:
            raise ActionRefused(f"SCIM token {token_id} ({token.name}) is already revoked.")
        token = scim_tokens.revoke(session, token_id)
        record(audit, session, "scim.token_revoke", actor, provider_id=token.provider_id, scim_token_id=token.id, name=token.name)
    return token
