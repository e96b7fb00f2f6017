"""Changes to a user: disable (the deprovisioning path, hub.actions.deprovision), enable, sign out everywhere, grant and revoke the admin role.

Each is one transaction with its `admin.<action>` audit event (hub.actions.audited), refused
with ActionRefused when it would change nothing or lock out the administrator making it, from
every front door alike.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.actions import deprovision
from hub.actions.audited import ActionRefused, Actor, record, refusals_audited
from hub.actions.deprovision import CutOff, RevokeUpstream
from hub.core import sessions
from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.errors import NotFound
from hub.core.models import User, utcnow


def user_of(session: Session, user_id: int) -> User:
    """The user, or NotFound with where to look."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.", hint="Find the user in the linked accounts list.")
    return user


def _not_yourself(actor: Actor, user_id: int, what: str) -> None:
    if actor.user_id == user_id:
        raise ActionRefused(
            f"You cannot {what} yourself: the hub would lock out the administrator making the change.",
            hint="Ask another administrator to do it.",
        )


def disable(
    db: Database, audit: AuditLog, revoke_upstream: RevokeUpstream | None, actor: Actor, user_id: int
) -> CutOff:
    """Disable the user and cut them off (hub.actions.deprovision): their sessions end with
    back-channel logout to the applications, every application refresh family is revoked, the
    stored upstream tokens are revoked at the provider (`revoke_upstream`, None to skip) and deleted.

    Offline refresh tokens outlive hub sessions: they are revoked too, so enabling the user
    again never revives an application's access the person did not grant anew. `actor.via`
    names who learnt it: console, cli, scim, upstream_check."""
    with refusals_audited(db, audit, "admin.disable_user", actor, subject_user_id=user_id):
        _not_yourself(actor, user_id, "disable")
        with db.session() as session:
            if user_of(session, user_id).disabled_at is not None:
                raise ActionRefused("This user is already disabled.")
        revocation = deprovision.revoke_upstream_tokens(db, revoke_upstream, deprovision.account_ids_of(db, user_id))
        with write_transaction(db) as session:
            user = user_of(session, user_id)
            if user.disabled_at is not None:
                raise ActionRefused("This user is already disabled.")
            cut = disable_in(session, audit, actor, user, revocation)
    return cut


def disable_in(session: Session, audit: AuditLog, actor: Actor, user: User, revocation: dict[str, str]) -> CutOff:
    """`disable` inside the caller's transaction, for a change that must land with the disable
    or not at all (SCIM's create, PUT, PATCH and DELETE): the caller checked the user is enabled
    and ran `deprovision.revoke_upstream_tokens` (`revocation`) before it, with no transaction
    open; {} when there was nothing to revoke (the stored tokens are deleted all the same)."""
    user.disabled_at = utcnow()
    user.disabled_by = actor.disables_as
    cut = deprovision.cut_off_user(session, user.id, "user_disabled")
    record(
        audit, session, "admin.disable_user", actor, subject_user_id=user.id,
        provider_revocation=revocation, **deprovision.counts(cut),
    )
    return cut


def enable(db: Database, audit: AuditLog, actor: Actor, user_id: int) -> None:
    """Let a disabled user sign in again (their revoked grants stay revoked)."""
    with refusals_audited(db, audit, "admin.enable_user", actor, subject_user_id=user_id), write_transaction(db) as session:
        user = user_of(session, user_id)
        if user.disabled_at is None:
            raise ActionRefused("This user is not disabled.")
        enable_in(session, audit, actor, user)


def enable_in(session: Session, audit: AuditLog, actor: Actor, user: User) -> None:
    """`enable` inside the caller's transaction (SCIM's re-provisioning lands with the resource's
    change): the caller checked the user is disabled."""
    user.disabled_at = None
    user.disabled_by = None
    record(audit, session, "admin.enable_user", actor, subject_user_id=user.id)


def sign_out_everywhere(db: Database, audit: AuditLog, actor: Actor, user_id: int) -> int:
    """End every hub session of the user (an administrator may do it to themself); returns how many."""
    with refusals_audited(db, audit, "admin.signout_everywhere", actor, subject_user_id=user_id), write_transaction(db) as session:
        user_of(session, user_id)
        ended = len(sessions.end_sessions(session, user_id=user_id, reason="signout_everywhere"))
        record(audit, session, "admin.signout_everywhere", actor, subject_user_id=user_id, sessions_ended=ended)
    return ended


def grant_admin(db: Database, audit: AuditLog, actor: Actor, user_id: int) -> User:
    """Give the user the hub's administrator role (from their next page view)."""
    with refusals_audited(db, audit, "admin.grant", actor, subject_user_id=user_id), write_transaction(db) as session:
        user = user_of(session, user_id)
        if user.is_admin:
            raise ActionRefused("This user already holds the administrator role granted by the hub.")
        user.is_admin = True
        record(audit, session, "admin.grant", actor, subject_user_id=user_id)
    return user


def revoke_admin(db: Database, audit: AuditLog, actor: Actor, user_id: int) -> User:
    """Take the hub's administrator role; a provider's role mapping, if any, still admits them."""
    with refusals_audited(db, audit, "admin.revoke", actor, subject_user_id=user_id):
        _not_yourself(actor, user_id, "remove the administrator role from")
        with write_transaction(db) as session:
            user = user_of(session, user_id)
            if not user.is_admin:
                raise ActionRefused(
                    "This user does not hold the administrator role granted by the hub.",
                    hint="If they are an administrator through a provider's role, change it at the provider.",
                )
            user.is_admin = False
            record(audit, session, "admin.revoke", actor, subject_user_id=user_id)
    return user
