"""Consent: what each user allowed each application, remembered per user, application and scopes.

A grant covers a request when every requested scope was consented to before; consenting again
adds the new scopes. Removing access deletes the grant, and with it (database cascade) every
refresh-token family issued under it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hub.core.db import upsert_insert
from hub.core.models import Application, Grant, utcnow

SCOPE_WORDS = {
    "openid": "know that it is you (a stable identifier for your hub account)",
    "profile": "see your name",
    "email": "see your email address, and whether it was verified",
    "roles": "see your roles in this organisation",
    "offline_access": "stay signed in and act for you after you sign out of the hub",
    "provider_tokens": "call the services you signed in with (for example Microsoft Graph) on your behalf",
}
"""What a person reads on the consent page for each scope."""


ALWAYS_ASK = frozenset({"provider_tokens"})
"""Scopes only the person can allow, even to a first-party application: handing out their upstream
tokens (say their Microsoft Graph access) is never a side effect of how an application was
registered. A first-party application skips the consent page for every other scope."""


def to_ask(application: Application, scopes: list[str]) -> list[str]:
    """The requested scopes the person must have consented to: all of them, or for a first-party
    application those in ALWAYS_ASK."""
    if not application.first_party:
        return list(scopes)
    return [scope for scope in scopes if scope in ALWAYS_ASK]


def implicit(scopes: list[str]) -> list[str]:
    """What an authorization without a consent decision may record: never an ALWAYS_ASK scope,
    so only the person's explicit "allow" puts one in a grant."""
    return [scope for scope in scopes if scope not in ALWAYS_ASK]


def find(session: Session, user_id: int, application_id: int) -> Grant | None:
    return session.scalar(
        select(Grant).where(Grant.user_id == user_id, Grant.application_id == application_id)
    )


LAST_USED_GRANULARITY = timedelta(minutes=1)
"""A grant's last use is written at most once a minute, so busy applications do not rewrite one
hot row per token."""
_TOUCH = update(Grant.__table__).where(Grant.__table__.c.id == bindparam("grant_id")).values(last_used_at=bindparam("now"))


def touch(session: Session, grant_id: int, last_used_at: datetime | None) -> None:
    """Record that the grant was used now, unless `last_used_at` (as read) is under a minute old.
    A Core UPDATE, for the token endpoint's hot path where the grant was read as columns."""
    now = utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_GRANULARITY:
        session.connection().execute(_TOUCH, {"grant_id": grant_id, "now": now})


def covers(grant: Grant | None, scopes: list[str]) -> bool:
    """Whether the remembered decision already allows every requested scope."""
    if grant is None:
        return False
    return set(scopes) <= set(grant.scopes.split())


def remember(session: Session, user_id: int, application_id: int, scopes: list[str]) -> Grant:
    """Record consent (or, for first-party applications, the implicit grant) to `scopes`.

    Two first authorizations of one person for one application may run at once (two tabs, two
    nodes): one INSERT ... ON CONFLICT DO UPDATE creates the row or, when it exists, locks it
    (PostgreSQL waits for the other request's row instead of failing on the unique constraint),
    so the scopes are merged into a row nobody else changes or deletes meanwhile."""
    now = utcnow()
    grant_id = session.execute(
        upsert_insert(session, Grant)
        .values(user_id=user_id, application_id=application_id, scopes="", created_at=now, updated_at=now)
        .on_conflict_do_update(index_elements=["user_id", "application_id"], set_={"updated_at": now})
        .returning(Grant.id)
    ).scalar_one()
    grant = session.get(Grant, grant_id, populate_existing=True)
    assert grant is not None  # locked by the statement above
    merged = list(dict.fromkeys(grant.scopes.split() + list(scopes)))
    grant.scopes = " ".join(merged)
    grant.updated_at = now
    grant.last_used_at = now
    session.flush()
    return grant


def remove(session: Session, user_id: int, application_id: int) -> Grant | None:
    """ "Remove access": the grant and every refresh-token family under it end now."""
    from hub.issuer import tokens

    grant = find(session, user_id, application_id)
    tokens.revoke_user_application(session, user_id, application_id, reason="access_removed")
    if grant is not None:
        session.delete(grant)
        session.flush()
    return grant


def for_user(session: Session, user_id: int) -> list[tuple[Grant, Application]]:
    """A user's connected applications with what each may see (for "Connected applications")."""
    rows = session.execute(
        select(Grant, Application)
        .join(Application, Application.id == Grant.application_id)
        .where(Grant.user_id == user_id)
        .order_by(Application.name)
    ).all()
    return [(grant, application) for grant, application in rows]


def describe_scopes(scopes: list[str]) -> list[str]:
    return [SCOPE_WORDS[scope] for scope in scopes if scope in SCOPE_WORDS]
