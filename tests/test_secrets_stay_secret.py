"""No token, code, PKCE verifier or client secret reaches a database column, a log line or a page.

The fake IdP records every secret it issued or received; after a sign-in, a link, a refresh
and a logout the whole database (every column of every table, as text and as raw bytes), the
captured logs at DEBUG and the pages the user saw are searched for each of them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, text, update

from hub.models import Base, LinkedAccount, TokenSet, utcnow
from tests.conftest import callback_path, csrf_of, sign_in, start_signin


def database_dump(app) -> str:
    rt = app.extensions["hub"]
    parts = []
    with rt.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value)
                        parts.append(value.decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_no_secret_in_database_logs_or_pages(app, client, idp, caplog):
    caplog.set_level(logging.DEBUG)
    pages = []
    pages.append(sign_in(client, idp, "alice").get_data(as_text=True))
    pages.append(client.get("/account").get_data(as_text=True))
    url = start_signin(client, "fake2", intent="link", next="/account")
    pages.append(client.get(callback_path(idp.authorize(url, "bob"))).get_data(as_text=True))
    pages.append(client.get("/account").get_data(as_text=True))

    rt = app.extensions["hub"]
    with rt.db.session() as session, session.begin():
        account_id = session.scalar(select(LinkedAccount.id).where(LinkedAccount.provider_id == "fake"))
        session.execute(update(TokenSet).values(access_expires_at=utcnow() - timedelta(minutes=1)))
    refreshed = rt.vault.access_token(rt.db, account_id, rt.providers, rt.audit)
    assert refreshed.value in idp.secrets_issued  # the refresh really happened at the provider

    pages.append(client.post("/logout", data={"csrf_token": csrf_of(client, "/account")}).get_data(as_text=True))

    secrets = set(idp.secrets_issued) | {idp.client_secret}
    assert len(secrets) >= 8  # two codes, two verifiers, three token pairs and the client secret
    dump = database_dump(app)
    logs = "\n".join(record.getMessage() + str(record.args) for record in caplog.records) + caplog.text
    everything_shown = "\n".join(pages)
    for secret in secrets:
        assert secret not in dump, "a secret reached the database in plaintext"
        assert secret not in logs, "a secret reached the logs"
        assert secret not in everything_shown, "a secret reached a page"
    assert rt.keys.secret_key.decode() not in dump + logs + everything_shown


def test_access_log_has_path_and_request_id_but_not_the_query(client, idp, caplog):
    caplog.set_level(logging.INFO, logger="hub.access")
    sign_in(client, idp, "alice")
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.access"]
    callback = next(line for line in lines if "/auth/fake/callback" in line)
    assert callback.startswith("GET /auth/fake/callback 302")
    assert "code=" not in "\n".join(lines) and "state=" not in "\n".join(lines)
