"""The provider conformance kit: one suite every provider type runs against its own IdP.

A provider distribution subclasses `ProviderConformance` in a test module named `Test...`
and supplies an `adapter` fixture returning a `ConformanceAdapter`: how to configure the
provider, how to make the IdP side approve a sign-in for a person, and how to make it
misbehave. The suite then checks what every provider type owes the hub (SECURITY-CATALOGUE
C01-C11, B01-B03, R01, R07, R09, G01):

    class TestMyConformance(ProviderConformance):
        @pytest.fixture
        def adapter(self):
            with MyFakeIdP() as idp:
                yield MyAdapter(idp)

No pytest plugin registration is needed: the fixtures live on the class. A check the
provider's protocol does not have (a nonce without ID tokens) is skipped. A check the adapter
cannot enable is skipped too, never silently: the end of the run prints one line per plugin,
"not checked: <member> (<checks>)", and strict mode (`pytest --hub-strict`, or the environment
variable HUB_KIT_STRICT=1) fails those checks instead (`hub.plugin.testing.unchecked`).

Whatever the adapter provides, every check also watches for secrets: every log record of every
logger at every level, and every error the provider raises, must not show the client secret, a
secret setting, or a code or token the IdP issued (`hub.plugin.testing.watch`).

A plugin tested against `hub.testing.authserver.FakeAuthorizationServer` subclasses
`FakeServerAdapter` instead and writes only `provider_table`: every check is then enabled.

What the adapter must provide, and what it may (each optional member enables checks):

| member | needed for |
| --- | --- |
| `plugin`, `plugin_name`, `users` (two people), `provider_table`, `approve`, `token_calls` | every check |
| `has_id_token`, `issues_new_refresh_token`, `single_use_refresh_tokens` | which protocol checks apply |
| `misbehave(kind)` for `MISBEHAVIOURS` | nonce/issuer/audience enforcement, token-endpoint outages and timeouts |
| `misbehave_at(endpoint, kind)` for `OUTAGE_ENDPOINTS` x `PROFILE_MISBEHAVIOURS` | outages, timeouts, HTML, broken and empty JSON at the token, profile and revocation endpoints |
| `revocation_calls()`, `issued_secrets()` | a revocation failure reported as done; tokens the provider never hands back, in logs |
| `account_states` (every state that blocks a user) with `refuse_account(user, state)` | each state is refused |
| `serve_tls(context, browser_bundle)` | TLS verification (`hub.testing.tls`'s throwaway CAs) |
| `does_not_apply` | members with no counterpart at this IdP (printed, not failed in strict mode) |
| `bad_client_settings()` | rejected client credentials |
| `secret_settings` | secrets never in settings errors |
| `expected_profile(user)` | profile mapping |
| `change_email`, `rename`, `unverify_email` | the subject survives an email change and a rename; honest `email_verified` |
| `deny(authorization_url, user)` | an `error=` answer from the real IdP (without it the kit builds one) |

Timing: the kit's providers give up reading after `READ_TIMEOUT` (0.5 s), so a `timeout`
misbehaviour must make the IdP wait longer than that (about a second).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask
from sqlalchemy import select, update

from hub.core.models import LinkedAccount, TokenSet, utcnow
from hub.plugin.testing.adapters import (
    DEFAULT_ACCOUNT_STATES,
    MISBEHAVIOURS,
    OUTAGE_ENDPOINTS,
    PROFILE_MISBEHAVIOURS,
    PROVIDER_ID,
    READ_TIMEOUT,
    REDIRECT_URI,
    ConformanceAdapter,
    FakeServerAdapter,
)
from hub.plugin.testing.app import callback_path, hub_app, start_sign_in
from hub.plugin.testing.outage_checks import OutageChecks
from hub.plugin.testing.provider_checks import ProviderChecks, build_provider, expect, pkce_pair
from hub.plugin.testing.pytest_plugin import ensure_registered
from hub.plugin.testing.tls_checks import TlsChecks
from hub.plugin.testing.unchecked import RUN, plugin_of
from hub.plugin.testing.watch import Watch, watching
from hub.provider import ProviderType


class ProviderConformance(ProviderChecks, OutageChecks, TlsChecks):
    """The suite. Subclass it as `Test<Name>Conformance` and provide the `adapter` fixture."""

    provider_id: ClassVar[str] = PROVIDER_ID

    # --- fixtures ---------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _hub_kit_watch(self, request: pytest.FixtureRequest, adapter: ConformanceAdapter) -> Iterator[Watch]:
        """Around every check: the summary and strict mode, and the watch that fails the check
        when a secret reaches a log record (any logger, any level)."""
        ensure_registered(request.config)
        RUN.current_check = getattr(request.node, "originalname", request.node.name)
        RUN.plugins.add(plugin_of(adapter))
        with watching(adapter) as watch:
            yield watch

    @pytest.fixture
    def adapter(self) -> ConformanceAdapter:
        """Override: yield your ConformanceAdapter, its IdP running for the test."""
        raise NotImplementedError("override the `adapter` fixture in your conformance test class")

    @pytest.fixture
    def build(self, adapter: ConformanceAdapter) -> Any:
        """build(**overrides) -> a provider instance, made the way the hub's registry makes it."""

        def make(**overrides: Any) -> ProviderType:
            return build_provider(adapter, self.provider_id, **overrides)

        return make

    @pytest.fixture
    def provider(self, build: Any) -> ProviderType:
        """A provider built from the adapter's table as it is."""
        return build()

    @pytest.fixture
    def hub(self, adapter: ConformanceAdapter, tmp_path: Path) -> Iterator[Flask]:
        """A throwaway hub (hub.testing.app.hub_app) with the provider configured as `conformance`."""
        table = {**adapter.provider_table(REDIRECT_URI), "name": "Conformance", "redirect_uri": REDIRECT_URI}
        app = hub_app(tmp_path / "hub", {self.provider_id: table}, [(adapter.plugin_name, adapter.plugin)])
        yield app
        app.extensions["hub"].close()

    # --- the hub around the provider (B01, R07, R09) ---------------------------------------------

    def test_fifty_concurrent_refreshes_make_one_provider_call(self, adapter: ConformanceAdapter, hub: Flask) -> None:
        account_id = self.hub_sign_in(adapter, hub, adapter.users[0])
        rt = hub.extensions["hub"]
        with rt.db.session() as session, session.begin():
            session.execute(update(TokenSet).where(TokenSet.linked_account_id == account_id).values(access_expires_at=utcnow()))
        before = adapter.token_calls()
        barrier = threading.Barrier(50)

        def caller(_: int) -> str:
            barrier.wait()
            return rt.vault.access_token(rt.db, account_id, rt.providers, rt.audit).value

        with ThreadPoolExecutor(max_workers=50) as pool:
            values = list(pool.map(caller, range(50)))
        assert adapter.token_calls() - before == 1
        assert len(set(values)) == 1

    def hub_sign_in(self, adapter: ConformanceAdapter, hub: Flask, user: str) -> int:
        """Sign in through the hub's routes; returns the linked account's id."""
        client = hub.test_client()
        params = adapter.approve(start_sign_in(client, self.provider_id), user)
        response = client.get(callback_path(self.provider_id, params))
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        with hub.extensions["hub"].db.session() as session:
            return session.scalars(select(LinkedAccount.id).order_by(LinkedAccount.id.desc())).first()

    def test_the_hub_enforces_state_and_redeems_a_code_once(self, adapter: ConformanceAdapter, hub: Flask) -> None:
        client = hub.test_client()
        params = adapter.approve(start_sign_in(client, self.provider_id), adapter.users[0])
        before = adapter.token_calls()
        tampered = client.get(callback_path(self.provider_id, {**params, "state": "forged-state"}))
        assert tampered.status_code == 400 and adapter.token_calls() == before
        assert client.get(callback_path(self.provider_id, params)).status_code == 302
        replay = client.get(callback_path(self.provider_id, params))
        assert replay.status_code == 400 and adapter.token_calls() == before + 1


__all__ = [
    "DEFAULT_ACCOUNT_STATES",
    "MISBEHAVIOURS",
    "OUTAGE_ENDPOINTS",
    "PROFILE_MISBEHAVIOURS",
    "READ_TIMEOUT",
    "REDIRECT_URI",
    "ConformanceAdapter",
    "FakeServerAdapter",
    "ProviderConformance",
    "build_provider",
    "expect",
    "pkce_pair",
]
