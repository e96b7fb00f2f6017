"""Rotating the token key ring and re-sealing everything it protects (token sets, signing keys), audited.

A rotation is safe in this order: a new key is added to the ring and the ring persisted (where
is the caller's business: the development secrets file, or the operator deploying the printed
value) before anything is re-sealed with it. Old keys stay in the ring, so nothing is ever
unreadable half-way, and a re-seal that stops is finished by running it again. A key leaves
the ring only when nothing is sealed with it any more.

Every change records one audit event shape: `keys_rotated`, `keys_reencrypted` or
`keys_retired`, with the acting user (None for an operator at the command line) and the front
door it came through in `details["via"]` (`cli`, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.keyring import (
    KeyRing,
    TokenKeyMissing,
    TokenUnreadable,
    add_token_key,
    retire_key,
    token_set_binding,
)
from hub.core.models import SigningKey, TokenSet
from hub.issuer import signing

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Progress callback: (items done so far, items in total)."""


@dataclass(frozen=True)
class ResealReport:
    """What a re-sealing pass did. `unreadable` lists token set ids it had to skip."""

    rewrapped: int
    unreadable: tuple[int, ...] = ()
    newest_key_id: str = ""


def add_key(db: Database, audit: AuditLog, ring_text: str, *, via: str, actor_user_id: int | None = None) -> str:
    """The ring with a new newest key, nothing re-sealed yet: for a production rotation, where the
    operator deploys the new ring to every process before `reseal` runs."""
    new_text = add_token_key(ring_text)
    _record(db, audit, "keys_rotated", via, actor_user_id, new_key_id=KeyRing.parse(new_text).newest_id, stage="added")
    return new_text


def rotate(
    db: Database,
    audit: AuditLog,
    ring_text: str,
    progress: Progress | None = None,
    *,
    persist: Callable[[str], None],
    via: str,
    actor_user_id: int | None = None,
    batch_size: int = 200,
) -> str:
    """Add a new key, persist the ring, then re-seal everything with it; returns the new ring.

    `persist` runs before anything is re-sealed: if it fails nothing has changed, and if the
    re-sealing is interrupted afterwards everything is still readable with the persisted ring
    (old keys stay in it), and `reseal` finishes the job.
    """
    new_text = add_token_key(ring_text)
    persist(new_text)
    ring = KeyRing.parse(new_text)
    _reseal(db, ring, progress, batch_size=batch_size)
    _record(db, audit, "keys_rotated", via, actor_user_id, new_key_id=ring.newest_id, stage="reencrypted")
    return new_text


def reseal(
    db: Database,
    audit: AuditLog,
    keyring: KeyRing,
    progress: Progress | None = None,
    *,
    via: str,
    actor_user_id: int | None = None,
    batch_size: int = 200,
) -> ResealReport:
    """Re-seal every token set and signing key not yet under the ring's newest key (safe to re-run)."""
    report = _reseal(db, keyring, progress, batch_size=batch_size)
    _record(db, audit, "keys_reencrypted", via, actor_user_id, key_id=report.newest_key_id, count=report.rewrapped)
    return report


def retire(
    db: Database, audit: AuditLog, ring_text: str, key_id: str, *, via: str, actor_user_id: int | None = None
) -> str:
    """The ring without `key_id`. Raises ConfigError while anything is still sealed with it, or
    when it is the newest key or not in the ring."""
    new_text = retire_key(ring_text, key_id, key_usage(db))
    _record(db, audit, "keys_retired", via, actor_user_id, key_id=key_id)
    return new_text


def key_usage(db: Database) -> dict[str, int]:
    """How many token sets and signing keys each key id seals (to see when an old key can be
    retired)."""
    usage: dict[str, int] = {}
    with db.session() as session:
        for column in (TokenSet.key_id, SigningKey.ring_key_id):
            for key_id, count in session.execute(select(column, func.count()).group_by(column)).all():
                usage[key_id] = usage.get(key_id, 0) + count
    return usage


def _reseal(db: Database, keyring: KeyRing, progress: Progress | None, *, batch_size: int) -> ResealReport:
    """Token sets one transaction per batch, then the issuer's signing keys in one.

    Rows already under the newest key are skipped, so an interrupted run is finished by
    running it again. Token sets that cannot be opened (tampered, or sealed with a key missing
    from the ring) are left as they are and listed in the report.
    """
    newest = keyring.newest_id
    with db.session() as session:
        total = session.scalar(
            select(func.count()).select_from(TokenSet).where(TokenSet.key_id != newest)
        ) or 0
    done = rewrapped = 0
    unreadable: list[int] = []
    last_id = 0
    if progress:
        progress(0, total)
    while True:
        with write_transaction(db) as session:
            batch = session.scalars(
                select(TokenSet)
                .where(TokenSet.id > last_id, TokenSet.key_id != newest)
                .order_by(TokenSet.id)
                .limit(batch_size)
                .with_for_update(key_share=True)
            ).all()
            for token_set in batch:
                binding = token_set_binding(token_set.linked_account_id)
                try:
                    plaintext = keyring.decrypt(token_set.key_id, token_set.ciphertext, binding)
                except (TokenUnreadable, TokenKeyMissing):
                    unreadable.append(token_set.id)
                    continue
                token_set.key_id, token_set.ciphertext = keyring.encrypt(plaintext, binding)
                token_set.version += 1
                rewrapped += 1
        if not batch:
            break
        last_id = batch[-1].id
        done += len(batch)
        if progress:
            progress(min(done, total), total)
    if unreadable:
        log.warning("key rotation skipped %d unreadable token sets", len(unreadable))
    with write_transaction(db) as session:
        rewrapped += signing.reencrypt(session, keyring)
    return ResealReport(rewrapped, tuple(unreadable), newest)


def _record(db: Database, audit: AuditLog, type: str, via: str, actor_user_id: int | None, **details: Any) -> None:
    with write_transaction(db) as session:
        audit.record(session, type, "success", actor_user_id=actor_user_id, details={**details, "via": via})
    audit.committed(session)
