"""No token, code, PKCE verifier, client secret or signing key reaches a database column, a log line or a page.

The fake IdP records every secret it issued or received; after a sign-in, a link, a refresh
and a logout the whole database (every column of every table, as text and as raw bytes), the
captured logs at DEBUG and the pages the user saw are searched for each of them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, text, update

from hub.core.models import AuditEvent, Base, LinkedAccount, TokenSet, utcnow
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
    assert callback.startswith("127.0.0.1 GET /auth/fake/callback 302")  # the client address first
    assert "code=" not in "\n".join(lines) and "state=" not in "\n".join(lines)


def test_issuer_secrets_never_reach_database_logs_audit_or_pages(issuer, caplog):
    """The issuer side: client secrets, codes, PKCE verifiers, access, refresh and ID tokens and
    the private signing keys, after a consent, a redemption, a refresh, userinfo, introspection,
    a revocation and an end-session."""
    import json

    import requests

    caplog.set_level(logging.DEBUG)
    pages = []
    issuer.sign_in("alice")
    grafana = issuer.register("Grafana")
    oauth = issuer.oauth(grafana, scope="openid profile email offline_access")
    url, kept = issuer.authorize_url(oauth)
    consent_page = issuer.get(url)
    pages.append(consent_page.get_data(as_text=True))
    arrived = issuer.arrived(issuer.consent(consent_page).headers["Location"], **kept)
    token = issuer.redeem(oauth, arrived)
    refreshed = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=token["refresh_token"])
    past_the_grace_window(issuer, token["refresh_token"])  # so the replay is refused as reuse
    replay = requests.post(
        f"{issuer.base}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(grafana.client_id, grafana.client_secret), timeout=5,
    )
    pages.append(replay.text)
    pages.append(oauth.get(f"{issuer.base}/oauth2/userinfo").text)
    pages.append(
        requests.post(
            f"{issuer.base}/oauth2/introspect", data={"token": refreshed["access_token"]},
            auth=(grafana.client_id, grafana.client_secret), timeout=5,
        ).text
    )
    pages.append(
        requests.post(
            f"{issuer.base}/oauth2/revoke", data={"token": refreshed["refresh_token"]},
            auth=(grafana.client_id, grafana.client_secret), timeout=5,
        ).text
    )
    pages.append(issuer.browser.get("/oauth2/logout", query_string={"id_token_hint": token["id_token"]}).get_data(as_text=True))

    rt = issuer.rt
    private_parts = []
    for alg in ("RS256", "ES256"):
        private = rt.signing_keys.signing_key(alg).as_dict(private=True)
        private_parts += [private[name] for name in ("d", "p", "q", "dp", "dq", "qi") if name in private]
    secrets = {
        grafana.client_secret,
        arrived.code,
        arrived.code_verifier,
        token["access_token"],
        token["refresh_token"],
        token["id_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        *private_parts,
    }
    dump = database_dump(issuer.app)
    logs = "\n".join(record.getMessage() + str(record.args) for record in caplog.records) + caplog.text
    with rt.db.session() as session:
        audit_details = json.dumps([event.details for event in session.scalars(select(AuditEvent))])
    everything_shown = "\n".join(pages)
    for secret in secrets:
        assert secret and len(secret) >= 20
        assert secret not in dump, "an issuer secret reached the database in plaintext"
        assert secret not in logs, "an issuer secret reached the logs"
        assert secret not in audit_details, "an issuer secret reached the audit log"
        assert secret not in everything_shown, "an issuer secret reached a page"


def past_the_grace_window(issuer, refresh_token: str) -> None:
    """Date a spent refresh token's use back beyond the reuse grace window."""
    from datetime import timedelta

    from sqlalchemy import update

    from hub.core.models import RefreshToken, utcnow
    from hub.issuer import tokens

    with issuer.rt.db.session() as session, session.begin():
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == tokens.token_hash(refresh_token))
            .values(used_at=utcnow() - timedelta(seconds=issuer.rt.settings.refresh_reuse_grace_seconds + 1))
        )
