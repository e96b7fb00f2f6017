"""Deleting many expired rows in bounded batches, each its own short transaction (issue 21).

One DELETE of a million spent refresh tokens was one 4-second transaction writing ~283 MB of
WAL; a batch deletes at most `BATCH_SIZE` rows chosen by primary key through the index on the
condition's column, commits, and goes on, so locks, WAL per commit and replication lag stay
bounded whatever the backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, delete, select, tuple_

from hub.core.db import Database, write_transaction

BATCH_SIZE = 5000
"""Rows deleted per transaction."""

Purge = tuple[Any, ColumnElement[bool]]
"""A model and the condition its expired rows meet (each module's `purge_targets`)."""


def delete_in_batches(
    db: Database,
    target: Purge,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete the rows meeting the condition, `batch_size` per transaction; how many in all."""
    model, condition = target
    key = list(model.__table__.primary_key.columns)
    chosen = select(*key).where(condition).limit(batch_size)
    match = key[0].in_(chosen) if len(key) == 1 else tuple_(*key).in_(chosen)
    statement = delete(model.__table__).where(match)
    total = 0
    while True:
        with write_transaction(db) as session:
            deleted = session.execute(statement).rowcount or 0
        total += deleted
        if on_batch is not None:
            on_batch(deleted)
        if deleted < batch_size:
            return total
