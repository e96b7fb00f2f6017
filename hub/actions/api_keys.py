"""Changes to the token API's keys: create one (its secret returned once) and revoke one.

Each is one transaction with its `api_key.*` audit event (hub.actions.audited); revoking a key
that is already revoked is refused like every other no-op, so the log never shows two
revocations of one key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.actions.audited import ActionRefused, Actor, record, refusals_audited
from hub.core import apikeys
from hub.core.audit import AuditLog, clean_text
from hub.core.db import Database, write_transaction
from hub.core.models import ApiKey


def create(
    db: Database,
    audit: AuditLog,
    actor: Actor,
    name: str,
    *,
    providers: Sequence[str] | None = None,
    expires_at: datetime | None = None,
) -> apikeys.NewApiKey:
    """A new key for a back-end service, limited to `providers` (None: all) until `expires_at`."""
    with refusals_audited(db, audit, "api_key.create", actor, name=clean_text(name, 128)), write_transaction(db) as session:
        created = apikeys.create(session, name, providers=providers, expires_at=expires_at)
        record(
            audit, session, "api_key.create", actor,
            api_key_id=created.row.id, name=created.row.name, providers=created.row.providers,
            expires_at=expires_at.isoformat() if expires_at else None,
        )
    return created


def revoke(db: Database, audit: AuditLog, actor: Actor, key_id: int) -> ApiKey:
    """Stop the key at once."""
    with refusals_audited(db, audit, "api_key.revoke", actor, api_key_id=key_id), write_transaction(db) as session:
        key = session.get(ApiKey, key_id)
        if key is not None and key.revoked_at is not None:
            raise ActionRefused(f"API key {key_id} ({key.name}) is already revoked.", hint="`hub api-keys list` shows the keys.")
        key = apikeys.revoke(session, key_id)
        record(audit, session, "api_key.revoke", actor, api_key_id=key.id, name=key.name)
    return key
