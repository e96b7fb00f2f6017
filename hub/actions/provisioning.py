"""SCIM provisioning's semantics: a directory's joiners, movers and leavers become hub users.

A provisioned user is keyed by the provider's immutable id (`externalId`), never by userName or
email: it is the hub user of the linked account (provider id, the subject the provider's sign-in
produces for that id, ProviderType.subject_for_directory_id), created here if the person never
signed in, so their first sign-in lands on it. Deprovisioning (`active` false, or DELETE) runs
the one disable path via "scim": its in-transaction half users.disable_in, in the transaction
that stores the resource's change, so `active` and the hub user never disagree; the provider's
token revocation runs before that transaction (_RevokeFirst). Re-provisioning enables
(users.enable_in, the same way) only a user that provisioning disabled. Each change is audited
as `scim.*` with the token's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scim2_models import Context, EnterpriseUser, User
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, load_only

from hub.actions import deprovision, users
from hub.actions.audited import Actor, record
from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.models import LinkedAccount, ProvisionedGroup, ProvisionedUser, utcnow
from hub.core.models import User as HubUser
from hub.core.scim_errors import ScimError

ScimUser = User[EnterpriseUser]
__all__ = ["Directory", "ScimError", "ScimUser"]


@dataclass(frozen=True)
class Directory:
    """One provider's SCIM endpoint as a request reaches it: the provider, the token's name,
    how the provider's groups map to hub roles (`scim_group_roles`), and who acts."""

    provider_id: str
    subject_for: Any
    """ProviderType.subject_for_directory_id of the provider."""
    token_name: str
    group_roles: Mapping[str, str] = field(default_factory=dict)
    actor: Actor = field(default_factory=lambda: Actor(None, "scim"))
    revoke_upstream: Any = None
    """Revokes a linked account's stored tokens at its provider (hub.runtime.revoke_upstream), for
    the one disable path; None skips the provider (the tokens are still deleted)."""


def not_found(kind: str, resource_id: str) -> ScimError:
    return ScimError(f"There is no {kind} {resource_id[:64]!r} at this endpoint.", status=404, scim_type=None)


def provisioned_user(session: Session, directory: Directory, resource_id: str) -> ProvisionedUser:
    row = session.get(ProvisionedUser, resource_id[:36])
    if row is None or row.provider_id != directory.provider_id:
        raise not_found("user", resource_id)
    return row


def _subject(directory: Directory, external_id: str | None) -> str:
    if not external_id or len(external_id) > 256:
        raise ScimError(
            "A user needs externalId: the directory's immutable id of the person (for Entra ID, map "
            "objectId to externalId; docs/provisioning.md).", scim_type="invalidValue",
        )
    try:
        return str(directory.subject_for(external_id))
    except ValueError as error:
        raise ScimError(f"externalId {external_id[:64]!r} is not this directory's id of a person: {error}") from None


def stored(user: ScimUser) -> dict[str, Any]:
    """The attributes kept for the resource (without id and meta: those are the hub's)."""
    data = user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    data.pop("id", None)
    data.pop("meta", None)
    return data


def _primary_email(user: ScimUser) -> str | None:
    emails = user.emails or []
    chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
    return str(chosen.value)[:320] if chosen is not None and chosen.value else None


def _display(user: ScimUser) -> str | None:
    name = user.display_name or (user.name.formatted if user.name else None) or user.user_name
    return str(name)[:256] if name else None


def _apply(row: ProvisionedUser, user: ScimUser, hub_user: HubUser, account: LinkedAccount) -> None:
    """Store the pushed attributes; names and addresses are display data only."""
    row.user_name = str(user.user_name or row.user_name)[:256]
    row.resource = stored(user)
    row.active = user.active is not False
    row.updated_at = utcnow()
    row.version += 1
    account.display_name = hub_user.display_name = _display(user)
    email = _primary_email(user)
    if email != account.email:  # the provider's sign-in verified the old address, not this one
        account.email_verified = False
    account.email = hub_user.email = email


def _change_due(directory: Directory, row: ProvisionedUser, hub_user: HubUser) -> str | None:
    """What `active` asks of the hub user: "disable", "enable" (only a user this directory
    disabled: an administrator's disable, or another directory's, stays) or nothing."""
    if not row.active and hub_user.disabled_at is None:
        return "disable"
    if row.active and hub_user.disabled_at is not None and hub_user.disabled_by == directory.actor.disables_as:
        return "enable"
    return None


class _RevokeFirst(Exception):
    """A disable is due and the user holds stored upstream tokens the provider has not been asked
    to revoke: the transaction rolls back, the provider is asked (network, no transaction open),
    and the change runs again with its answer."""

    def __init__(self, user_id: int) -> None:
        super().__init__(user_id)
        self.user_id = user_id


def _follow_active(
    session: Session, audit: AuditLog, directory: Directory, row: ProvisionedUser, hub_user: HubUser,
    revocation: dict[str, str] | None,
) -> None:
    """Run the one disable path (hub.actions.users) inside the resource's own transaction, so the
    resource's `active` and the hub user's state commit together or not at all.

    `revocation` is the provider's answer asked before this transaction, or None when it was not
    asked: then a disable of a user holding stored tokens raises _RevokeFirst (the caller asks and
    runs again); a user holding none has nothing to revoke ({}). Tokens stored between the ask and
    this transaction (a sign-in in that moment) are deleted without being revoked at the provider;
    the event's provider_revocation lists what the provider was asked to revoke."""
    due = _change_due(directory, row, hub_user)
    if due == "disable":
        if revocation is None and directory.revoke_upstream is not None and deprovision.holds_upstream_tokens(session, hub_user.id):
            raise _RevokeFirst(hub_user.id)
        users.disable_in(session, audit, directory.actor, hub_user, revocation or {})
    elif due == "enable":
        users.enable_in(session, audit, directory.actor, hub_user)


def _revoking_first(db: Database, directory: Directory, change: Callable[[dict[str, str] | None], ProvisionedUser]) -> ProvisionedUser:
    """Run `change` (one write transaction); if it finds a disable that needs the provider's
    revocation first, ask the provider and run it once more with the answer."""
    try:
        return change(None)
    except _RevokeFirst as first:
        revocation = deprovision.revoke_upstream_tokens(db, directory.revoke_upstream, deprovision.account_ids_of(db, first.user_id))
    return change(revocation)


_ACCOUNT_COLUMNS = (
    LinkedAccount.user_id, LinkedAccount.provider_id, LinkedAccount.subject, LinkedAccount.display_name,
    LinkedAccount.email, LinkedAccount.email_verified,
)
_USER_COLUMNS = (HubUser.display_name, HubUser.email, HubUser.disabled_at, HubUser.disabled_by)
_ACCOUNT = (
    select(LinkedAccount)
    .where(LinkedAccount.provider_id == bindparam("provider_id"), LinkedAccount.subject == bindparam("subject"))
    .options(load_only(*_ACCOUNT_COLUMNS), joinedload(LinkedAccount.user).load_only(*_USER_COLUMNS))
)
"""A create's look for the person's linked account (a sign-in before provisioning), built once."""
_LOADED = (
    select(ProvisionedUser, LinkedAccount, HubUser)
    .join(HubUser, HubUser.id == ProvisionedUser.user_id)
    .join(LinkedAccount, (LinkedAccount.user_id == ProvisionedUser.user_id) & (LinkedAccount.provider_id == ProvisionedUser.provider_id))
    .where(ProvisionedUser.id == bindparam("resource_id"), ProvisionedUser.provider_id == bindparam("provider_id"))
    .options(load_only(*_ACCOUNT_COLUMNS), load_only(*_USER_COLUMNS))
)
"""Every PUT and PATCH reads this, built once (its cache key too), with only the columns a change
writes or reads: each column selected costs the driver and the ORM per request."""


def create_user(db: Database, audit: AuditLog, directory: Directory, user: ScimUser) -> ProvisionedUser:
    """A joiner: the hub user of (provider, subject), created unless the person signed in before.
    An inactive joiner is disabled in the same transaction."""
    subject = _subject(directory, user.external_id)
    if not user.user_name:
        raise ScimError("A user needs userName.", scim_type="invalidValue")
    try:
        return _revoking_first(db, directory, lambda revocation: _created(db, audit, directory, user, subject, revocation))
    except IntegrityError:  # the same person pushed twice at once: the other request made them
        raise ScimError("A user with this externalId is already provisioned.", status=409, scim_type="uniqueness") from None


def _created(
    db: Database, audit: AuditLog, directory: Directory, user: ScimUser, subject: str, revocation: dict[str, str] | None
) -> ProvisionedUser:
    # An externalId already provisioned fails the insert on its unique constraint (the caller's
    # 409): no read ahead of every create to find it.
    with write_transaction(db) as session:
        account = session.scalar(_ACCOUNT, {"provider_id": directory.provider_id, "subject": subject})
        if account is None:  # new: nothing to cut off, so an inactive joiner is never enabled
            account = LinkedAccount(provider_id=directory.provider_id, subject=subject, issuer="", user=HubUser(), roles=[])
            session.add(account)
            revocation = {}
        hub_user = account.user
        row = ProvisionedUser(
            provider_id=directory.provider_id, external_id=str(user.external_id), user_name="", version=0, user=hub_user
        )
        _apply(row, user, hub_user, account)
        session.add(row)
        session.flush()
        record(
            audit, session, "scim.user_create", directory.actor, subject_user_id=hub_user.id,
            provider_id=directory.provider_id, scim_token_name=directory.token_name, scim_id=row.id,
            linked_account_id=account.id, active=row.active,
        )
        _follow_active(session, audit, directory, row, hub_user, revocation)
    return row


def replace_user(db: Database, audit: AuditLog, directory: Directory, resource_id: str, user: ScimUser) -> ProvisionedUser:
    """A mover (PUT): new attributes; `active` follows through the disable path, in the same transaction."""
    return _changed(db, audit, directory, resource_id, lambda _current: user, "scim.user_replace")


def patch_user(
    db: Database, audit: AuditLog, directory: Directory, resource_id: str, patched: Callable[[ProvisionedUser], ScimUser]
) -> ProvisionedUser:
    """A PATCH: `patched` turns the stored resource into the new one (the SCIM view applies the
    operations with scim2-models), in the same transaction that stores it. It may be called twice
    (a disable that asks the provider first, _RevokeFirst): the caller uses the last result."""
    return _changed(db, audit, directory, resource_id, patched, "scim.user_patch")


def _changed(
    db: Database, audit: AuditLog, directory: Directory, resource_id: str,
    new_of: Callable[[ProvisionedUser], ScimUser], event: str,
) -> ProvisionedUser:
    return _revoking_first(db, directory, lambda revocation: _changed_once(db, audit, directory, resource_id, new_of, event, revocation))


def _changed_once(
    db: Database, audit: AuditLog, directory: Directory, resource_id: str,
    new_of: Callable[[ProvisionedUser], ScimUser], event: str, revocation: dict[str, str] | None,
) -> ProvisionedUser:
    with write_transaction(db) as session:
        row, account, hub_user = _loaded(session, directory, resource_id)
        user = new_of(row)
        if user.external_id is not None and user.external_id != row.external_id:
            raise ScimError("externalId is the person's immutable id and cannot change.", scim_type="mutability")
        user.external_id = row.external_id
        _apply(row, user, hub_user, account)
        record(
            audit, session, event, directory.actor, subject_user_id=row.user_id, provider_id=directory.provider_id,
            scim_token_name=directory.token_name, scim_id=row.id, active=row.active,
        )
        _follow_active(session, audit, directory, row, hub_user, revocation)
    return row


def _loaded(session: Session, directory: Directory, resource_id: str) -> tuple[ProvisionedUser, LinkedAccount, HubUser]:
    """The resource, its linked account (provider, the subject of its externalId) and hub user, in one query."""
    found = session.execute(_LOADED, {"resource_id": resource_id[:36], "provider_id": directory.provider_id}).all()
    if found:
        subject = _subject(directory, found[0][0].external_id)
        for row, account, hub_user in found:
            if account.subject == subject:
                return row, account, hub_user
    raise not_found("user", resource_id)


def delete_user(db: Database, audit: AuditLog, directory: Directory, resource_id: str) -> None:
    """A leaver removed from the app's assignment: disabled (the hub user and its audit trail stay),
    no longer provisioned; its group memberships and their roles end. One transaction: a failure
    leaves the user provisioned and as enabled as before, so the directory's retry does it all."""
    with db.session() as session:
        row = provisioned_user(session, directory, resource_id)
        enabled = row.user.disabled_at is None
    revocation = (
        deprovision.revoke_upstream_tokens(db, directory.revoke_upstream, deprovision.account_ids_of(db, row.user_id))
        if enabled else {}
    )  # the provider's network call, before the transaction (as users.disable)
    with write_transaction(db) as session:
        row = provisioned_user(session, directory, resource_id)
        if row.user.disabled_at is None:
            users.disable_in(session, audit, directory.actor, row.user, revocation)
        for group in session.scalars(select(ProvisionedGroup).where(ProvisionedGroup.provider_id == directory.provider_id)):
            if row.id in group.members:
                group.members = [m for m in group.members if m != row.id]
        session.delete(row)
        session.flush()
        sync_roles(session, directory, [row.user_id])
        record(
            audit, session, "scim.user_delete", directory.actor, subject_user_id=row.user_id,
            provider_id=directory.provider_id, scim_token_name=directory.token_name, scim_id=row.id,
        )


def sync_roles(session: Session, directory: Directory, user_ids: list[int]) -> None:
    """Set the hub roles the provider's `scim_group_roles` gives each user by their groups,
    keeping roles that do not come from that mapping."""
    mapped = set(directory.group_roles.values())
    if not mapped:
        return
    groups = list(session.scalars(select(ProvisionedGroup).where(ProvisionedGroup.provider_id == directory.provider_id)))
    for user_id in set(user_ids):
        scim_ids = set(session.scalars(select(ProvisionedUser.id).where(
            ProvisionedUser.provider_id == directory.provider_id, ProvisionedUser.user_id == user_id
        )))
        granted = {directory.group_roles[g.display_name] for g in groups if g.display_name in directory.group_roles and scim_ids & set(g.members)}
        for account in session.scalars(select(LinkedAccount).where(
            LinkedAccount.provider_id == directory.provider_id, LinkedAccount.user_id == user_id
        )):
            account.roles = sorted((set(account.roles or []) - mapped) | granted)
