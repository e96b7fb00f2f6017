"""Changes to the applications registry: register, rotate the secret, disable, enable, delete,
and remove a person's access (their grant).

Each is one transaction with its `application.<action>` (or `grant.remove`) audit event
(hub.actions.audited), and refuses a no-op (disabling a disabled application) from the console
and the CLI alike. A new client secret is returned to the caller exactly once and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.actions.audited import ActionRefused, Actor, record, refusals_audited
from hub.core.audit import AuditLog, clean_text
from hub.core.db import Database, write_transaction
from hub.core.models import Application
from hub.issuer import applications, backchannel
from hub.issuer import consent as grants
from hub.issuer.applications import NewSecret


@dataclass(frozen=True)
class Registration:
    """What registering an application asks for (the console's form asks for the first six)."""

    name: str
    redirect_uris: list[str]
    public: bool = False
    first_party: bool = False
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    auth_method: str | None = None
    grant_types: list[str] | None = None
    scopes: str | None = None
    signing_alg: str = "RS256"
    pairwise_subject: bool = False
    jwks: dict | None = None
    jwks_uri: str | None = None


def _named(application: Application) -> dict[str, Any]:
    return {"client_id": application.client_id, "application": application.name}


def register(db: Database, audit: AuditLog, actor: Actor, form: Registration) -> NewSecret:
    """Register the application; its client secret (confidential ones) is in the answer, once."""
    with refusals_audited(db, audit, "application.create", actor, application=clean_text(form.name, 128)), write_transaction(db) as session:
        created = applications.create(
            session,
            form.name,
            form.redirect_uris,
            public=form.public,
            first_party=form.first_party,
            post_logout_redirect_uris=form.post_logout_redirect_uris,
            backchannel_logout_uri=form.backchannel_logout_uri or None,
            auth_method=applications.PUBLIC if form.public else form.auth_method,
            grant_types=form.grant_types or None,
            scopes=form.scopes,
            signing_alg=form.signing_alg,
            pairwise_subject=form.pairwise_subject,
            jwks=form.jwks,
            jwks_uri=form.jwks_uri,
        )
        record(audit, session, "application.create", actor, **_named(created.application))
    return created


def rotate_secret(db: Database, audit: AuditLog, actor: Actor, client_id: str) -> NewSecret:
    """A new client secret; the old one stops working at once."""
    with refusals_audited(db, audit, "application.rotate_secret", actor, client_id=clean_text(client_id, 64)), write_transaction(db) as session:
        rotated = applications.rotate_secret(session, client_id)
        record(audit, session, "application.rotate_secret", actor, **_named(rotated.application))
    return rotated


def disable(db: Database, audit: AuditLog, actor: Actor, client_id: str) -> Application:
    """Stop the application: sign-ins, tokens and refreshes fail; its refresh tokens are revoked."""
    with refusals_audited(db, audit, "application.disable", actor, client_id=clean_text(client_id, 64)), write_transaction(db) as session:
        if applications.get(session, client_id).disabled_at is not None:
            raise ActionRefused("This application is already disabled.")
        application = applications.disable(session, client_id)
        record(audit, session, "application.disable", actor, **_named(application))
    return application


def enable(db: Database, audit: AuditLog, actor: Actor, client_id: str) -> Application:
    """Allow a disabled application again (its revoked tokens stay revoked)."""
    with refusals_audited(db, audit, "application.enable", actor, client_id=clean_text(client_id, 64)), write_transaction(db) as session:
        if applications.get(session, client_id).disabled_at is None:
            raise ActionRefused("This application is not disabled.")
        application = applications.enable(session, client_id)
        record(audit, session, "application.enable", actor, **_named(application))
    return application


def delete(db: Database, audit: AuditLog, actor: Actor, client_id: str) -> Application:
    """Delete the application with its grants, codes and tokens."""
    with refusals_audited(db, audit, "application.delete", actor, client_id=clean_text(client_id, 64)), write_transaction(db) as session:
        application = applications.delete(session, client_id)
        record(audit, session, "application.delete", actor, **_named(application))
    return application


def remove_access(db: Database, audit: AuditLog, actor: Actor, user_id: int, client_id: str) -> Application:
    """ "Remove access": revoke the application's refresh tokens for this person, forget their
    consent, and tell the application (back-channel logout) to end the sessions it holds in the
    person's live hub sessions. The person does it on their page, an administrator in the console."""
    with refusals_audited(db, audit, "grant.remove", actor, subject_user_id=user_id, client_id=clean_text(client_id, 64)), write_transaction(db) as session:
        application = applications.get(session, client_id)
        if grants.find(session, user_id, application.id) is None:
            raise ActionRefused(
                f"{application.name} has no access to remove.",
                code="no_grant",
                hint="Reload the page: the access may have been removed already.",
            )
        told = backchannel.enqueue_for_application(session, user_id, application.id, "access_removed")
        grants.remove(session, user_id, application.id)
        record(
            audit, session, "grant.remove", actor, subject_user_id=user_id,
            **_named(application), backchannel_logouts=told,
        )
    return application
