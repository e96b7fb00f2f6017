"""The optional provider method `check_account` (hub.upstream.checks), with GitHub OAuth apps:
no refresh token, so a due check asks `GET /user` with the stored token; the person revoking
the app is refused for good. A provider without the method says it cannot check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from hub.core.db import write_transaction
from hub.core.models import LinkedAccount, WebSession, utcnow
from tests.e2e.test_e2e_plugins import press


@pytest.fixture
def hub(live_hub, github) -> tuple[str, Any]:
    github.expiring_tokens = False  # an OAuth app: tokens without refresh tokens

    def providers(base_url: str) -> dict[str, Any]:
        return {"github": {"type": "github", "name": "GitHub", **github.provider_settings()}}

    return live_hub(providers, ("github",))


def due(app) -> int:
    rt = app.extensions["hub"]
    long_ago = utcnow() - timedelta(hours=1)
    with write_transaction(rt.db) as session:
        session.execute(update(LinkedAccount).values(linked_at=long_ago, last_sign_in_at=long_ago))
        return session.scalars(select(LinkedAccount.id)).one()


def test_github_confirms_with_the_user_endpoint_then_refuses_a_revoked_app(hub, github) -> None:
    base_url, app = hub
    rt = app.extensions["hub"]
    github.auto_sign_in = "ada"
    browser = requests.Session()
    assert press(browser, base_url, "github").status_code == 200
    account_id = due(app)
    assert browser.get(f"{base_url}/account", timeout=10).status_code == 200  # checked: confirmed
    with rt.db.session() as session:
        assert session.get(LinkedAccount, account_id).upstream_outcome == "confirmed"
    github.revoke_app("ada")
    due(app)
    with rt.db.session() as session:
        session.execute(update(LinkedAccount).values(upstream_checked_at=utcnow() - timedelta(hours=1)))
        session.commit()
    assert browser.get(f"{base_url}/account", timeout=10, allow_redirects=False).status_code == 302
    with rt.db.session() as session:
        account = session.get(LinkedAccount, account_id)
        assert (account.upstream_outcome, account.upstream_error) == ("refused", "bad_credentials")
        assert session.scalars(select(WebSession)).all() == []
