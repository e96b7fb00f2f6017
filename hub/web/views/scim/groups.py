"""SCIM /Groups: create, get, list, replace, PATCH (members add and remove), DELETE."""

from __future__ import annotations

from flask import Response, request
from scim2_models import Context, Group, ListResponse, PatchOp

from hub.actions import provisioned_groups as groups
from hub.console import provisioning as reads
from hub.core.scim_errors import ScimError
from hub.web.request import runtime
from hub.web.views.scim.protocol import authenticated, body, bp, directory, parsed, scim_response
from hub.web.views.scim.users import _int_arg


@bp.post("/Groups")
@authenticated
def create_group(provider_id: str) -> Response:
    group = parsed(Group, body(), Context.RESOURCE_CREATION_REQUEST)
    created = groups.create_group(runtime().db, runtime().audit, directory(provider_id), group)
    return scim_response(groups.dumped(created), 201)


@bp.get("/Groups")
@authenticated
def list_groups(provider_id: str) -> Response:
    start, count = reads.page(_int_arg("startIndex", 1) or 1, _int_arg("count", None))
    with runtime().db.session() as session:
        total, rows = reads.groups(session, provider_id, request.args.get("filter"), start, count)
        resources = [groups.as_scim(row) for row in rows]
    listing = ListResponse[Group](total_results=total, start_index=start, items_per_page=len(resources), resources=resources)
    return scim_response(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.get("/Groups/<resource_id>")
@authenticated
def get_group(provider_id: str, resource_id: str) -> Response:
    with runtime().db.session() as session:
        return scim_response(groups.dumped(groups.as_scim(groups.provisioned_group(session, directory(provider_id), resource_id))))


@bp.put("/Groups/<resource_id>")
@authenticated
def replace_group(provider_id: str, resource_id: str) -> Response:
    group = parsed(Group, body(), Context.RESOURCE_REPLACEMENT_REQUEST)
    replaced = groups.replace_group(runtime().db, runtime().audit, directory(provider_id), resource_id, group)
    return scim_response(groups.dumped(replaced))


@bp.patch("/Groups/<resource_id>")
@authenticated
def patch_group(provider_id: str, resource_id: str) -> Response:
    patch = parsed(PatchOp[Group], body(), Context.RESOURCE_PATCH_REQUEST)
    found = directory(provider_id)
    with runtime().db.session() as session:
        group = groups.as_scim(groups.provisioned_group(session, found, resource_id))
    try:
        patch.patch(group)
    except Exception as error:  # scim2-models' own exceptions and pydantic's on a bad operation
        raise ScimError(f"The PATCH cannot be applied: {str(error)[:200]}", scim_type=str(getattr(error, "scim_type", None) or "invalidValue")) from None
    patched = groups.replace_group(runtime().db, runtime().audit, found, resource_id, group, event="scim.group_patch")
    return scim_response(groups.dumped(patched))


@bp.delete("/Groups/<resource_id>")
@authenticated
def delete_group(provider_id: str, resource_id: str) -> Response:
    groups.delete_group(runtime().db, runtime().audit, directory(provider_id), resource_id)
    return Response(status=204)
