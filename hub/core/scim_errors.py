"""A SCIM request the hub refuses, carrying RFC 7644 §3.12's status and scimType."""

from __future__ import annotations

from hub.core.errors import HubError


class ScimError(HubError):
    """A SCIM refusal: the SCIM views render it as the RFC's error JSON; `scim_type` is its scimType
    (None where the RFC defines none, as for 404 and 413)."""

    status = 400
    code = "scim_invalid"

    def __init__(self, message: str, *, status: int = 400, scim_type: str | None = "invalidValue") -> None:
        super().__init__(message, code=f"scim_{scim_type or status}", status=status)
        self.scim_type = scim_type
