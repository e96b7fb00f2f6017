"""Single flight of the upstream re-check (hub.upstream.checks): a hundred uses at once of one
person's account whose check is due cause exactly one call to the provider; everyone else waits
on the account's lock and reads the outcome (run it on PostgreSQL too: HUB_TEST_DATABASE_URL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from hub.core.db import write_transaction
from hub.core.models import LinkedAccount, utcnow
from tests.conftest import sign_in


def make_due(rt) -> tuple[int, int]:
    long_ago = utcnow() - timedelta(hours=1)
    with write_transaction(rt.db) as session:
        session.execute(update(LinkedAccount).values(linked_at=long_ago, last_sign_in_at=long_ago))
        return session.execute(select(LinkedAccount.id, LinkedAccount.user_id)).one()


def check_once(rt, user_id: int) -> str | None:
    with write_transaction(rt.db) as session:
        return rt.checks.refusal_for_family(session, user_id, "fake")


def test_a_hundred_concurrent_uses_cause_one_upstream_call(app, rt, idp):
    sign_in(app.test_client(), idp, "alice")
    _, user_id = make_due(rt)
    calls = idp.token_calls
    with ThreadPoolExecutor(max_workers=20) as pool:
        verdicts = list(pool.map(lambda _: check_once(rt, user_id), range(100)))
    assert verdicts == [None] * 100
    assert idp.token_calls == calls + 1


def test_a_hundred_concurrent_uses_of_a_refused_account_cut_it_off_once(app, rt, idp):
    sign_in(app.test_client(), idp, "alice")
    account_id, user_id = make_due(rt)
    idp.refresh_tokens.clear()
    calls = idp.token_calls
    with ThreadPoolExecutor(max_workers=20) as pool:
        verdicts = list(pool.map(lambda _: check_once(rt, user_id), range(100)))
    assert all(verdict is not None for verdict in verdicts)
    assert idp.token_calls == calls + 1
    with rt.db.session() as session:
        assert session.get(LinkedAccount, account_id).upstream_outcome == "refused"
