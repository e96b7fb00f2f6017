"""The token endpoint's cached applications (hub.issuer.client_cache): a change to an application
takes effect at the very next request, with the cache warm, and the cache never writes more than
the application's last use."""

from __future__ import annotations

import requests
from sqlalchemy import select, update

from hub.core.db import write_transaction
from hub.core.models import Application
from hub.issuer import applications


def refresh(issuer, client_id: str, secret: str | None, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{issuer.base}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(client_id, secret or ""),
        timeout=5,
    )


def warm(issuer, name: str = "Wiki"):
    """An application that has redeemed a code and refreshed once (so the cache holds it)."""
    issuer.sign_in()
    wiki = issuer.register(name, first_party=True)
    _, token, _ = issuer.sign_in_through(wiki, scope="openid offline_access")
    again = refresh(issuer, wiki.client_id, wiki.client_secret, token["refresh_token"])
    assert again.status_code == 200, again.text
    return wiki, again.json()["refresh_token"]


def test_a_rotated_secret_stops_working_at_the_next_request(issuer):
    wiki, token = warm(issuer)
    with write_transaction(issuer.rt.db) as session:
        rotated = applications.rotate_secret(session, wiki.client_id)
    old = refresh(issuer, wiki.client_id, wiki.client_secret, token)
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    new = refresh(issuer, wiki.client_id, rotated.client_secret, token)
    assert new.status_code == 200, new.text  # the refused attempt did not spend the token


def test_a_disabled_application_is_refused_at_the_next_request_and_an_enabled_one_served(issuer):
    wiki, token = warm(issuer)
    with write_transaction(issuer.rt.db) as session:
        applications.disable(session, wiki.client_id)
    refused = refresh(issuer, wiki.client_id, wiki.client_secret, token)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    with write_transaction(issuer.rt.db) as session:
        applications.enable(session, wiki.client_id)
    _, fresh, _ = issuer.sign_in_through(wiki, scope="openid offline_access")
    assert refresh(issuer, wiki.client_id, wiki.client_secret, fresh["refresh_token"]).status_code == 200


def test_a_deleted_application_is_refused_at_the_next_request(issuer):
    wiki, token = warm(issuer)
    with write_transaction(issuer.rt.db) as session:
        applications.delete(session, wiki.client_id)
    refused = refresh(issuer, wiki.client_id, wiki.client_secret, token)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_last_use_is_written_at_most_once_a_minute(issuer):
    wiki, token = warm(issuer)
    with issuer.rt.db.session() as session:
        first = session.scalar(select(Application.last_used_at).where(Application.client_id == wiki.client_id))
    assert first is not None
    token = refresh(issuer, wiki.client_id, wiki.client_secret, token).json()["refresh_token"]
    with issuer.rt.db.session() as session:
        assert session.scalar(select(Application.last_used_at).where(Application.client_id == wiki.client_id)) == first
    # the once-a-minute memory is this process's: without it, a missing last use is written
    with write_transaction(issuer.rt.db) as session:
        session.execute(update(Application).where(Application.client_id == wiki.client_id).values(last_used_at=None))
    issuer.app.extensions["hub.issuer"].clients._touched.clear()  # as if this process had not written yet
    assert refresh(issuer, wiki.client_id, wiki.client_secret, token).status_code == 200
    with issuer.rt.db.session() as session:
        assert session.scalar(select(Application.last_used_at).where(Application.client_id == wiki.client_id)) is not None
