"""SCIM /Groups: create, get, list, replace, PATCH (members add and remove), DELETE."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request
from scim2_models import Context, Group, ListResponse, PatchOp

from hub.actions import provisioned_groups as groups
from hub.console import provisioning as reads
from hub.core.scim_errors import ScimError
from hub.web.request import runtime
from hub.web.views.scim.protocol import (
    authenticated,
    body,
    bp,
    directory,
    int_arg,
    parsed,
    patch_applied,
    response_parameters,
    scim_response,
)

_MEMBER_ID = re.compile(r"[A-Za-z0-9-]{1,36}")


def entra_removals(data: dict[str, Any]) -> dict[str, Any]:
    """Entra removes members with `{"op": "Remove", "path": "members", "value": [{"value": id}]}`,
    which RFC 7644 §3.5.2.2 (and so scim2-models) reads as "remove every member": rewrite it as
    the RFC's one removal per member, `members[value eq "id"]`."""
    operations = data.get("Operations")
    if not isinstance(operations, list):
        return data
    rewritten: list[Any] = []
    for operation in operations:
        values = operation.get("value") if isinstance(operation, dict) else None
        if (
            isinstance(operation, dict) and str(operation.get("op", "")).lower() == "remove"
            and str(operation.get("path", "")).lower() == "members" and isinstance(values, list)
        ):
            for member in values:
                member_id = member.get("value") if isinstance(member, dict) else None
                if not isinstance(member_id, str) or not _MEMBER_ID.fullmatch(member_id):
                    raise ScimError("A member to remove is named by the id of a user provisioned here.")
                rewritten.append({"op": "remove", "path": f'members[value eq "{member_id}"]'})
        else:
            rewritten.append(operation)
    return {**data, "Operations": rewritten}


def _location(provider_id: str, resource_id: str) -> str:
    return f"{runtime().settings.base_url.rstrip('/')}/scim/v2/{provider_id}/Groups/{resource_id}"


def located(group: Group, provider_id: str) -> Group:
    """The group with meta.location, its URL at this endpoint (RFC 7644 §3.1)."""
    if group.meta is not None and group.id:
        group.meta.location = _location(provider_id, group.id)
    return group


@bp.post("/Groups")
@authenticated
def create_group(provider_id: str) -> Response:
    group = parsed(Group, body(), Context.RESOURCE_CREATION_REQUEST)
    created = groups.create_group(runtime().db, runtime().audit, directory(provider_id), group)
    return scim_response(groups.dumped(located(created, provider_id)), 201, location=_location(provider_id, str(created.id)))


@bp.get("/Groups")
@authenticated
def list_groups(provider_id: str) -> Response:
    start, count = reads.page(int_arg("startIndex", 1) or 1, int_arg("count", None))
    with runtime().db.session() as session:
        total, rows = reads.groups(session, provider_id, request.args.get("filter"), start, count)
        resources = [located(groups.as_scim(row), provider_id) for row in rows]
    listing = ListResponse[Group](total_results=total, start_index=start, items_per_page=len(resources), resources=resources)
    return scim_response(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=response_parameters()))


@bp.get("/Groups/<resource_id>")
@authenticated
def get_group(provider_id: str, resource_id: str) -> Response:
    with runtime().db.session() as session:
        group = groups.as_scim(groups.provisioned_group(session, directory(provider_id), resource_id))
    return scim_response(groups.dumped(located(group, provider_id), response_parameters()))


@bp.put("/Groups/<resource_id>")
@authenticated
def replace_group(provider_id: str, resource_id: str) -> Response:
    group = parsed(Group, body(), Context.RESOURCE_REPLACEMENT_REQUEST)
    replaced = groups.replace_group(runtime().db, runtime().audit, directory(provider_id), resource_id, group)
    return scim_response(groups.dumped(located(replaced, provider_id)))


@bp.patch("/Groups/<resource_id>")
@authenticated
def patch_group(provider_id: str, resource_id: str) -> Response:
    patch = parsed(PatchOp[Group], entra_removals(body()), Context.RESOURCE_PATCH_REQUEST)
    patched = groups.patch_group(runtime().db, runtime().audit, directory(provider_id), resource_id, patch_applied(patch))
    return scim_response(groups.dumped(located(patched, provider_id)))


@bp.delete("/Groups/<resource_id>")
@authenticated
def delete_group(provider_id: str, resource_id: str) -> Response:
    groups.delete_group(runtime().db, runtime().audit, directory(provider_id), resource_id)
    return Response(status=204)
