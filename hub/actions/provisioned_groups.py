"""SCIM groups: a directory's groups and their members, which map to hub roles by the provider's
`scim_group_roles` (hub.actions.provisioning.sync_roles). Each change is audited as `scim.group_*`."""

from __future__ import annotations

from collections.abc import Callable

from scim2_models import Context, Group, GroupMember, Meta, ResponseParameters
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.actions.audited import record
from hub.actions.provisioning import Directory, ScimError, not_found, sync_roles
from hub.core.audit import AuditLog
from hub.core.db import Database, write_transaction
from hub.core.models import ProvisionedGroup, ProvisionedUser, utcnow

MAX_MEMBERS = 10000


def provisioned_group(session: Session, directory: Directory, resource_id: str) -> ProvisionedGroup:
    row = session.get(ProvisionedGroup, resource_id[:36])
    if row is None or row.provider_id != directory.provider_id:
        raise not_found("group", resource_id)
    return row


def as_scim(row: ProvisionedGroup) -> Group:
    """The stored group as a SCIM Group (members by their SCIM ids), with its meta but for
    `location`, which the SCIM view adds (it knows the hub's URL)."""
    return Group(
        id=row.id, external_id=row.external_id, display_name=row.display_name,
        members=[GroupMember(value=member, type="User") for member in row.members] or None,
        meta=Meta(resource_type="Group", created=row.created_at, last_modified=row.updated_at, version=f'W/"{row.version}"'),
    )


def _members(session: Session, directory: Directory, group: Group) -> list[str]:
    wanted = sorted({str(m.value) for m in group.members or [] if m.value})
    if len(wanted) > MAX_MEMBERS:
        raise ScimError(f"A group holds at most {MAX_MEMBERS} members here.", status=413, scim_type=None)
    known = set(session.scalars(select(ProvisionedUser.id).where(
        ProvisionedUser.provider_id == directory.provider_id, ProvisionedUser.id.in_(wanted)
    ))) if wanted else set()
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise ScimError(f"Members {', '.join(u[:40] for u in unknown[:3])} are not users provisioned here.")
    return wanted


def _user_ids(session: Session, scim_ids: set[str]) -> list[int]:
    if not scim_ids:
        return []
    return list(session.scalars(select(ProvisionedUser.user_id).where(ProvisionedUser.id.in_(scim_ids))))


def _store(session: Session, directory: Directory, row: ProvisionedGroup, group: Group) -> None:
    if not group.display_name:
        raise ScimError("A group needs displayName.")
    before = set(row.members or [])
    row.display_name = str(group.display_name)[:256]
    row.external_id = str(group.external_id)[:256] if group.external_id else None
    row.members = _members(session, directory, group)
    row.updated_at = utcnow()
    session.flush()
    sync_roles(session, directory, _user_ids(session, before | set(row.members)))


def create_group(db: Database, audit: AuditLog, directory: Directory, group: Group) -> Group:
    with write_transaction(db) as session:
        row = ProvisionedGroup(provider_id=directory.provider_id, display_name="", members=[])
        session.add(row)
        _store(session, directory, row, group)
        record(
            audit, session, "scim.group_create", directory.actor, provider_id=directory.provider_id,
            scim_token_name=directory.token_name, scim_id=row.id, members=len(row.members),
        )
        return as_scim(row)


def replace_group(db: Database, audit: AuditLog, directory: Directory, resource_id: str, group: Group) -> Group:
    with write_transaction(db) as session:
        row = provisioned_group(session, directory, resource_id)
        return _stored_change(session, audit, directory, row, group, "scim.group_replace")


def patch_group(
    db: Database, audit: AuditLog, directory: Directory, resource_id: str, apply: Callable[[Group], None]
) -> Group:
    """A PATCH: `apply` changes the stored group (the SCIM view applies the operations with
    scim2-models) inside the transaction that stores it, the row locked (FOR UPDATE on
    PostgreSQL; SQLite's write transaction holds the database), so two concurrent member
    changes both land instead of the later whole-list write dropping the other's."""
    with write_transaction(db) as session:
        row = session.scalar(
            select(ProvisionedGroup)
            .where(ProvisionedGroup.id == resource_id[:36], ProvisionedGroup.provider_id == directory.provider_id)
            .with_for_update()
        )
        if row is None:
            raise not_found("group", resource_id)
        group = as_scim(row)
        apply(group)
        return _stored_change(session, audit, directory, row, group, "scim.group_patch")


def _stored_change(session: Session, audit: AuditLog, directory: Directory, row: ProvisionedGroup, group: Group, event: str) -> Group:
    row.version += 1
    _store(session, directory, row, group)
    record(
        audit, session, event, directory.actor, provider_id=directory.provider_id,
        scim_token_name=directory.token_name, scim_id=row.id, members=len(row.members),
    )
    return as_scim(row)


def delete_group(db: Database, audit: AuditLog, directory: Directory, resource_id: str) -> None:
    with write_transaction(db) as session:
        row = provisioned_group(session, directory, resource_id)
        members = set(row.members)
        session.delete(row)
        session.flush()
        sync_roles(session, directory, _user_ids(session, members))
        record(
            audit, session, "scim.group_delete", directory.actor, provider_id=directory.provider_id,
            scim_token_name=directory.token_name, scim_id=resource_id,
        )


def dumped(group: Group, wanted: ResponseParameters | None = None) -> dict:
    """The group as a response body; `wanted`: the query's attributes or excludedAttributes."""
    return group.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=wanted)
