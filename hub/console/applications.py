"""The applications as pages show them: the registry with its use, an application's grant
holders, and a person's connected applications (the changes are in hub.actions.applications)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.models import Application, Grant, TokenFamily, User, utcnow
from hub.issuer import applications
from hub.issuer import consent as grants


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
