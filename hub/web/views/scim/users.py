"""SCIM /Users: create, get, list (filter, paging), replace, PATCH, DELETE."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from scim2_models import Context, ListResponse, Meta, PatchOp

from hub.actions import provisioning
from hub.actions.provisioning import ScimUser
from hub.console import provisioning as reads
from hub.core.models import ProvisionedUser
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

UserPatch = PatchOp[ScimUser]
"""Parametrised once: pydantic's generic lookup costs on every request otherwise."""

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_MANAGER_PATH = f"{ENTERPRISE}:manager".lower()


def entra_manager(data: dict[str, Any]) -> dict[str, Any]:
    """Entra sets the enterprise extension's manager with a PATCH whose value is the manager's id
    alone (`"value": "<id>"`, after creating both people), where RFC 7643 §4.3 has a complex
    `{"value": "<id>"}`: rewrite that one shape and leave the rest to scim2-models' validation."""
    operations = data.get("Operations")
    if not isinstance(operations, list):
        return data
    return {**data, "Operations": [
        {**op, "value": {"value": op["value"]}}
        if isinstance(op, dict) and str(op.get("path", "")).lower() == _MANAGER_PATH and isinstance(op.get("value"), str)
        else op
        for op in operations
    ]}


def _location(provider_id: str, resource_id: str) -> str:
    return f"{runtime().settings.base_url.rstrip('/')}/scim/v2/{provider_id}/Users/{resource_id}"


def as_scim(row: ProvisionedUser) -> ScimUser:
    """The stored resource as a SCIM User with its id and meta."""
    return _with_meta(ScimUser.model_validate({**row.resource, "id": row.id}, scim_ctx=Context.RESOURCE_QUERY_RESPONSE), row)


def _with_meta(user: ScimUser, row: ProvisionedUser) -> ScimUser:
    """`user` (as stored, or as just validated: no second validation) with the hub's id and meta."""
    user.id, user.external_id, user.user_name, user.active = row.id, row.external_id, row.user_name, row.active
    user.meta = Meta(
        resource_type="User", created=row.created_at, last_modified=row.updated_at,
        location=_location(row.provider_id, row.id), version=f'W/"{row.version}"',
    )
    return user


def rendered(row: ProvisionedUser) -> dict[str, Any]:
    """The response body: the stored resource (as `provisioning.stored` dumped it, once, from the
    model the request produced) with the hub's id, keys and meta; no second validation or dump."""
    meta = Meta(
        resource_type="User", created=row.created_at, last_modified=row.updated_at,
        location=_location(row.provider_id, row.id), version=f'W/"{row.version}"',
    )
    return {
        **row.resource, "id": row.id, "externalId": row.external_id, "userName": row.user_name, "active": row.active,
        "meta": meta.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE),
    }


@bp.post("/Users")
@authenticated
def create_user(provider_id: str) -> Response:
    user = parsed(ScimUser, body(), Context.RESOURCE_CREATION_REQUEST)
    row = provisioning.create_user(runtime().db, runtime().audit, directory(provider_id), user)
    return scim_response(rendered(row), 201, location=_location(provider_id, row.id))


@bp.get("/Users")
@authenticated
def list_users(provider_id: str) -> Response:
    start, count = reads.page(int_arg("startIndex", 1) or 1, int_arg("count", None))
    with runtime().db.session() as session:
        total, rows = reads.users(session, provider_id, request.args.get("filter"), start, count)
        resources = [as_scim(row) for row in rows]
    listing = ListResponse[ScimUser](total_results=total, start_index=start, items_per_page=len(resources), resources=resources)
    return scim_response(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=response_parameters()))


@bp.get("/Users/<resource_id>")
@authenticated
def get_user(provider_id: str, resource_id: str) -> Response:
    wanted = response_parameters()
    with runtime().db.session() as session:
        row = provisioning.provisioned_user(session, directory(provider_id), resource_id)
        if wanted is None:
            return scim_response(rendered(row))
        return scim_response(as_scim(row).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=wanted))


@bp.put("/Users/<resource_id>")
@authenticated
def replace_user(provider_id: str, resource_id: str) -> Response:
    user = parsed(ScimUser, body(), Context.RESOURCE_REPLACEMENT_REQUEST)
    row = provisioning.replace_user(runtime().db, runtime().audit, directory(provider_id), resource_id, user)
    return scim_response(rendered(row))


@bp.patch("/Users/<resource_id>")
@authenticated
def patch_user(provider_id: str, resource_id: str) -> Response:
    """Entra's shapes too: capitalised ops, `"active": "False"`, a replace without path."""
    patch = parsed(UserPatch, entra_manager(body()), Context.RESOURCE_PATCH_REQUEST)

    def patched(row: ProvisionedUser) -> ScimUser:
        """The operations applied to the stored resource (scim2-models validates each value)."""
        user = ScimUser.model_validate({**row.resource, "id": row.id}, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        user.active = row.active
        patch_applied(patch)(user)
        return user

    row = provisioning.patch_user(runtime().db, runtime().audit, directory(provider_id), resource_id, patched)
    return scim_response(rendered(row))


@bp.delete("/Users/<resource_id>")
@authenticated
def delete_user(provider_id: str, resource_id: str) -> Response:
    provisioning.delete_user(runtime().db, runtime().audit, directory(provider_id), resource_id)
    return Response(status=204)
