"""The SCIM 2.0 service provider (RFC 7644) at /scim/v2/<provider_id>: a directory pushes users
and groups with a bearer token of that provider (hub.core.scim_tokens); docs/provisioning.md."""

from hub.web.views.scim import discovery, groups, users  # noqa: F401 - the routes register on bp
from hub.web.views.scim.protocol import bp

__all__ = ["bp"]
