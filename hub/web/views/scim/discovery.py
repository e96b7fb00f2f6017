"""SCIM discovery (RFC 7644 §4): /ServiceProviderConfig, /Schemas, /ResourceTypes."""

from __future__ import annotations

from flask import Response
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    ListResponse,
    Patch,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

from hub.console.provisioning import MAX_COUNT
from hub.web.views.scim.protocol import authenticated, bp, scim_response

SCHEMAS = [User.to_schema(), EnterpriseUser.to_schema(), Group.to_schema()]


@bp.get("/ServiceProviderConfig")
@authenticated
def service_provider_config(provider_id: str) -> Response:
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="Bearer token", description="A token from `hub scim token PROVIDER_ID`.",
        )],
    )
    return scim_response(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.get("/Schemas")
@authenticated
def schemas(provider_id: str) -> Response:
    listing = ListResponse[Schema](total_results=len(SCHEMAS), start_index=1, items_per_page=len(SCHEMAS), resources=SCHEMAS)
    return scim_response(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@bp.get("/ResourceTypes")
@authenticated
def resource_types(provider_id: str) -> Response:
    types = [ResourceType.from_resource(User[EnterpriseUser]), ResourceType.from_resource(Group)]
    listing = ListResponse[ResourceType](total_results=len(types), start_index=1, items_per_page=len(types), resources=types)
    return scim_response(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
