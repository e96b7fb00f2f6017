"""The admin console's applications: the registry as pages show it, and every change (register,
rotate the secret, disable, enable, delete, remove a person's access) in one transaction with
its audit event.

Like hub.console.actions, an action either commits the change with an `application.*` (or
`grant.remove`) success event, or raises a HubError after writing the failure event in its own
transaction, so a refused change leaves a trace and changes nothing. A new client secret is
returned to the caller exactly once and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.console.actions import ActionRefused, Actor
from hub.core.audit import clean_text
from hub.core.db import write_transaction
from hub.core.errors import HubError
from hub.core.models import Application, Grant, TokenFamily, User, utcnow
from hub.issuer import applications, backchannel
from hub.issuer import consent as grants
from hub.issuer.applications import NewSecret
from hub.runtime import Runtime


@dataclass(frozen=True)
class ApplicationRow:
    """One line of the applications list: the registration and how much it is used."""

    application: Application
    grants: int
    active_token_families: int

    @property
    def public(self) -> bool:
        return applications.is_public(self.application)


@dataclass(frozen=True)
class ConnectedApplication:
    """A person's grant to one application, in words they can read."""

    application: Application
    scopes: list[str]
    can_see: list[str]
    granted_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class GrantHolder:
    """A person holding a grant to one application (the application's page)."""

    user: User
    grant: Grant


def list_rows(session: Session) -> list[ApplicationRow]:
    """Every application with its grant count and live refresh-token families (two grouped
    counts, not one query per application)."""
    grant_counts = dict(
        session.execute(select(Grant.application_id, func.count()).group_by(Grant.application_id)).all()
    )
    family_counts = dict(
        session.execute(
            select(TokenFamily.application_id, func.count())
            .where(TokenFamily.revoked_at.is_(None), TokenFamily.expires_at > utcnow())
            .group_by(TokenFamily.application_id)
        ).all()
    )
    return [
        ApplicationRow(app, grant_counts.get(app.id, 0), family_counts.get(app.id, 0))
        for app in applications.list_all(session)
    ]


def row_for(session: Session, client_id: str) -> ApplicationRow:
    application = applications.get(session, client_id)
    grant_count = session.scalar(select(func.count()).select_from(Grant).where(Grant.application_id == application.id))
    families = session.scalar(
        select(func.count())
        .select_from(TokenFamily)
        .where(
            TokenFamily.application_id == application.id,
            TokenFamily.revoked_at.is_(None),
            TokenFamily.expires_at > utcnow(),
        )
    )
    return ApplicationRow(application, grant_count or 0, families or 0)


def grant_holders(session: Session, application_id: int, limit: int = 100) -> list[GrantHolder]:
    """The people who granted this application access, most recently used first."""
    rows = session.execute(
        select(User, Grant)
        .join(Grant, Grant.user_id == User.id)
        .where(Grant.application_id == application_id)
        .order_by(Grant.last_used_at.desc().nulls_last(), Grant.id)
        .limit(limit)
    ).all()
    return [GrantHolder(user, grant) for user, grant in rows]


def connected_applications(session: Session, user_id: int) -> list[ConnectedApplication]:
    """A person's connected applications: what each can see, and when it was last used."""
    connected = []
    for grant, application in grants.for_user(session, user_id):
        scopes = grant.scopes.split()
        connected.append(
            ConnectedApplication(application, scopes, grants.describe_scopes(scopes), grant.created_at, grant.last_used_at)
        )
    return connected


# --- changes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """What the "Register an application" form asks for."""

    name: str
    redirect_uris: list[str]
    public: bool
    first_party: bool
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None


def lines(text: str) -> list[str]:
    """Non-empty lines of a textarea (one URI per line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _details(application: Application, **extra: Any) -> dict[str, Any]:
    return {"client_id": application.client_id, "application": application.name, "via": "console", **extra}


def _audited_failure(rt: Runtime, actor: Actor, event: str, error: HubError, **details: Any) -> None:
    rt.audit.record_failure(
        rt.db,
        event,
        reason=error.code,
        actor_user_id=actor.user_id,
        context=actor.context,
        details={**details, "via": "console", "message": clean_text(error.message, 200)},
    )


def register(rt: Runtime, actor: Actor, form: Registration) -> NewSecret:
    try:
        with write_transaction(rt.db) as session:
            created = applications.create(
                session,
                form.name,
                form.redirect_uris,
                public=form.public,
                first_party=form.first_party,
                post_logout_redirect_uris=form.post_logout_redirect_uris,
                backchannel_logout_uri=form.backchannel_logout_uri or None,
            )
            rt.audit.record(
                session,
                "application.create",
                "success",
                actor_user_id=actor.user_id,
                context=actor.context,
                details=_details(created.application),
            )
        return created
    except HubError as error:
        _audited_failure(rt, actor, "application.create", error, application=clean_text(form.name, 128))
        raise


APPLICATION_ACTIONS: dict[str, str] = {
    "rotate_secret": "Rotate the client secret",
    "disable": "Disable",
    "enable": "Enable",
    "delete": "Delete",
}
"""Action name (audit type `application.<name>`) -> the button label."""


def perform(rt: Runtime, action: str, actor: Actor, client_id: str, *, confirmed: bool) -> NewSecret | None:
    """Run one application action; returns the new secret for `rotate_secret`, else None."""
    if action not in APPLICATION_ACTIONS:
        raise ActionRefused(f"There is no application action {action[:40]!r}.")
    try:
        if not confirmed:
            raise ActionRefused(
                "This action was not confirmed.",
                code="not_confirmed",
                hint="Use the action's button on the application's page and confirm on the next page.",
            )
        with write_transaction(rt.db) as session:
            application = applications.get(session, client_id)
            rotated = None
            if action == "rotate_secret":
                rotated = applications.rotate_secret(session, client_id)
            elif action == "disable":
                if application.disabled_at is not None:
                    raise ActionRefused("This application is already disabled.")
                applications.disable(session, client_id)
            elif action == "enable":
                if application.disabled_at is None:
                    raise ActionRefused("This application is not disabled.")
                applications.enable(session, client_id)
            else:
                applications.delete(session, client_id)
            rt.audit.record(
                session,
                f"application.{action}",
                "success",
                actor_user_id=actor.user_id,
                context=actor.context,
                details=_details(application),
            )
        return rotated
    except HubError as error:
        _audited_failure(rt, actor, f"application.{action}", error, client_id=clean_text(client_id, 64))
        raise


def remove_access(rt: Runtime, actor: Actor, user_id: int, client_id: str, *, via: str) -> Application:
    """ "Remove access": revoke the application's refresh tokens for this person, forget their
    consent, and tell the application (back-channel logout) to end the sessions it holds in
    the person's live hub sessions. `via` is "account" (the person) or "admin"."""
    try:
        with write_transaction(rt.db) as session:
            application = applications.get(session, client_id)
            if grants.find(session, user_id, application.id) is None:
                raise ActionRefused(
                    f"{application.name} has no access to remove.",
                    code="no_grant",
                    hint="Reload the page: the access may have been removed already.",
                )
            told = backchannel.enqueue_for_application(session, user_id, application.id, "access_removed")
            grants.remove(session, user_id, application.id)
            rt.audit.record(
                session,
                "grant.remove",
                "success",
                actor_user_id=actor.user_id,
                subject_user_id=user_id,
                context=actor.context,
                details={**_details(application), "via": via, "backchannel_logouts": told},
            )
        return application
    except HubError as error:
        rt.audit.record_failure(
            rt.db,
            "grant.remove",
            reason=error.code,
            actor_user_id=actor.user_id,
            subject_user_id=user_id,
            context=actor.context,
            details={"client_id": clean_text(client_id, 64), "via": via},
        )
        raise
