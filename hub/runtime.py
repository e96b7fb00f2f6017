"""Everything one hub process runs on, built once from the settings: the app and CLI share it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial
from typing import Any

import pluggy
from sqlalchemy import event
from sqlalchemy.orm import Session

from hub.actions import deprovision
from hub.actions.audited import Actor
from hub.core import metrics, production, sessions
from hub.core.audit import AuditLog, AuditRecord, Chainer, OutboxAuditLog
from hub.core.config import Settings
from hub.core.db import Database
from hub.core.keyring import KeyRing
from hub.core.models import LinkedAccount
from hub.core.secrets import HubKeys, load_keys
from hub.issuer.backchannel import Dispatcher, enqueue, sign_with
from hub.issuer.claims import subject_for
from hub.issuer.signing import SigningKeys
from hub.issuer.sso import application_sid
from hub.plugin.manager import Plugins, load_plugins
from hub.upstream.checks import CheckPolicy, UpstreamChecks
from hub.upstream.provider import ProviderType
from hub.upstream.registry import Registry, build_registry
from hub.upstream.revocation import revoke_at_provider
from hub.upstream.vault import TokenVault


@dataclass
class Runtime:
    settings: Settings
    keys: HubKeys
    db: Database
    plugins: Plugins
    registry: Registry
    audit: AuditLog
    vault: TokenVault
    signing_keys: SigningKeys
    """The issuer side's signing keys (hub.issuer.signing), shared through the database."""
    chainer: Chainer
    """Links the audit outbox into the chain (hub.core.audit.chainer). Like the back-channel
    sender, its thread runs only in serving processes, and only with `settings.audit_deferred`."""
    backchannel: Dispatcher
    """Sends the queued back-channel logout tokens (hub.issuer.backchannel). Its thread runs
    only in processes that serve requests (create_app starts it); a CLI process queues."""

    @classmethod
    def load(cls, settings: Settings, plugins: Plugins | None = None) -> Runtime:
        """Build the runtime. `plugins` lets tests pass a manager with their own plugins.

        With `settings.production`, refuses (hub.core.production.ProductionRefused) an unsafe
        configuration first, whichever entry point builds it (hub.wsgi, `hub serve`, a command)."""
        plugins = plugins if plugins is not None else load_plugins(settings.plugins)
        registry = build_registry(settings, plugins)
        if settings.production:  # before anything is written: a refused start leaves no file
            production.check(settings, {pid: p.redirect_uri for pid, p in registry.providers.items()})
        keys = load_keys(settings)
        db = open_database(settings.database_url)
        log_type = OutboxAuditLog if settings.audit_deferred else AuditLog
        audit = log_type(keys.audit_key, notify=lambda record: _relay(plugins, record))
        chainer = Chainer(db, keys.audit_key, settings.audit_chain_interval_ms / 1000)
        event.listen(db.sessions, "after_commit", audit.committed)
        event.listen(db.sessions, "after_rollback", audit.rolled_back)
        vault = TokenVault(KeyRing.parse(keys.token_keys))
        signing_keys = SigningKeys(db, vault.keyring)
        backchannel = Dispatcher(
            db,
            audit,
            issuer=settings.base_url.rstrip("/"),
            sign=sign_with(signing_keys.signing_key),
            session_id_of=lambda application, sid: application_sid(keys.secret_key, sid, application.client_id),
            subject_of=lambda application, user_id, public_subject: subject_for(
                user_id, public_subject, application, keys.secret_key
            ),
            on_attempt=lambda application, outcome: metrics.backchannel_logout_delivery(application.client_id, outcome),
        )
        return cls(
            settings=settings,
            keys=keys,
            db=db,
            plugins=plugins,
            registry=registry,
            audit=audit,
            vault=vault,
            signing_keys=signing_keys,
            chainer=chainer,
            backchannel=backchannel,
        )

    @property
    def pm(self) -> pluggy.PluginManager:
        return self.plugins.manager

    @property
    def providers(self) -> dict[str, ProviderType]:
        return self.registry.providers

    @cached_property
    def checks(self) -> UpstreamChecks:
        """Re-checks of linked accounts at their providers (hub.upstream.checks); a refusal runs
        the one deprovisioning path for that account (hub.actions.deprovision.end_account_in)."""
        policy = CheckPolicy(
            interval=timedelta(seconds=self.settings.upstream_check_seconds),
            grace=timedelta(seconds=self.settings.upstream_check_grace_seconds),
        )
        audit = self.audit

        def on_refused(session: Session, account: LinkedAccount, error: str | None) -> None:
            deprovision.end_account_in(session, audit, Actor(None, "upstream_check"), account, error)

        return UpstreamChecks(audit, self.vault, self.providers, policy, on_refused)

    def close(self) -> None:
        self.backchannel.stop()
        self.chainer.stop()
        self.db.dispose()


def open_database(url: str, **engine_kwargs: Any) -> Database:
    """A Database with the listeners the core leaves to the wings wired in: a session that ends
    queues the issuer's back-channel logouts in the same transaction (hub.core.sessions.on_ending).

    Every Database the hub ends sessions on is built here: Runtime.load (the app, the CLI, the
    plugin testing kit) and the tests' fixtures. One built otherwise refuses to end sessions
    (hub.core.sessions.SessionEventsNotWired) rather than forget the applications."""
    db = Database(url, **engine_kwargs)
    sessions.on_ending(db, enqueue)
    return db


def revoke_upstream(rt: Runtime) -> Callable[[int, str], str]:
    """The actions' RevokeUpstream for this runtime: the account's provider, best effort."""
    return partial(revoke_at_provider, rt.db, rt.vault, rt.providers)


def _relay(plugins: Plugins, record: AuditRecord) -> None:
    plugins.hook.hub_audit_event(event=record)
