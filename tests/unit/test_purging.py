"""hub db purge's batches: bounded transactions, only expired rows, composite keys too (issue 21)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select

from hub.core.db import Database, write_transaction
from hub.core.models import SeenLogoutToken, utcnow
from hub.core.purging import delete_in_batches
from hub.upstream import replay


def test_expired_rows_go_in_batches_each_its_own_transaction(db: Database) -> None:
    now = utcnow()
    with write_transaction(db) as session:
        for number in range(12):
            session.add(SeenLogoutToken(provider_id="p", jti_hash=f"old{number:02}", expires_at=now - timedelta(minutes=1)))
        for number in range(2):
            session.add(SeenLogoutToken(provider_id="p", jti_hash=f"new{number}", expires_at=now + timedelta(hours=1)))
    commits: list[int] = []
    event.listen(db.sessions, "after_commit", lambda session: commits.append(1))
    batches: list[int] = []
    assert delete_in_batches(db, replay.purge_target(now), batch_size=5, on_batch=batches.append) == 12
    assert batches == [5, 5, 2] and len(commits) == 3
    with db.session() as session:
        kept = session.scalars(select(SeenLogoutToken.jti_hash).order_by(SeenLogoutToken.jti_hash)).all()
        assert kept == ["new0", "new1"]
        assert session.scalar(select(func.count()).select_from(SeenLogoutToken)) == 2
