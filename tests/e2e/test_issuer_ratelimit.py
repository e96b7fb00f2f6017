"""The token endpoint's rate limit is per application: one application over its limit gets the
RFC-shaped 429, another application is unaffected."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from hub.core.models import AuditEvent
from tests.conftest import away_from_a_window_edge


@pytest.fixture
def hub_config(hub_config):
    return {**hub_config, "ratelimit_token": "3 per minute"}


def test_token_endpoint_limits_each_application_on_its_own(issuer):
    busy = issuer.register("Busy", grant_types=["client_credentials"])
    quiet = issuer.register("Quiet", grant_types=["client_credentials"])

    def ask(app):
        return requests.post(
            f"{issuer.base}/oauth2/token", data={"grant_type": "client_credentials"},
            auth=(app.client_id, app.client_secret), timeout=5,
        )

    away_from_a_window_edge()
    assert [ask(busy).status_code for _ in range(3)] == [200, 200, 200]
    limited = ask(busy)
    assert limited.status_code == 429
    assert limited.json()["error"] == "temporarily_unavailable"
    assert int(limited.headers["Retry-After"]) >= 1
    assert ask(quiet).status_code == 200
    with issuer.rt.db.session() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.type == "rate_limit")) is not None


def test_requests_in_an_applications_name_from_elsewhere_never_spend_its_allowance(app):
    """The client id of a token request is unauthenticated when the limit is counted: an
    attacker naming a real application from another address gets a bucket of their own."""
    from hub.web.views.issuer import application_of_request

    def key(address: str) -> str:
        with app.test_request_context(
            "/oauth2/token", method="POST", data={"client_id": "grafana"}, environ_base={"REMOTE_ADDR": address}
        ):
            return application_of_request()

    assert key("192.0.2.10") == key("192.0.2.10")
    assert key("192.0.2.10") != key("198.51.100.7")
    assert "grafana" in key("192.0.2.10")
