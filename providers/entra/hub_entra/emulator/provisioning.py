"""The emulator's provisioning service: a SCIM 2.0 client that pushes one tenant's people to an application, as Entra's does.

Entra's provisioning service is a SCIM *client*: an enterprise application's "Tenant URL" and
"Secret Token" point it at the application's SCIM endpoint (the hub's `/scim/v2/<provider>`), and
it sends joiners and leavers there in its own shapes (docs/provisioning.md): a POST /Users whose
`externalId` is the person's objectId and `userName` the UPN; on 409 `uniqueness` a
`GET /Users?filter=externalId eq "<oid>"` to match the existing user; and leavers and returners
as a PATCH with a capitalised `Replace` and the *strings* "False" / "True". The SCIM id the
application gives each person is remembered, and so is the last outcome, for the people page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from hub_entra.emulator.directory import User

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTENT_TYPE = "application/scim+json"


def user_resource(user: User, *, active: bool) -> dict[str, Any]:
    """The body of Entra's POST /Users with the default attribute mappings (objectId ->
    externalId, userPrincipalName -> userName, mail -> the work email, givenName and surname ->
    name, jobTitle -> title)."""
    resource: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "externalId": user.oid,
        "userName": user.email,
        "active": active,
        "displayName": user.display_name,
        "emails": [{"primary": True, "type": "work", "value": user.mail_address}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": user.display_name, "familyName": user.surname, "givenName": user.given_name},
        "roles": [],
    }
    if user.job_title:
        resource["title"] = user.job_title
    return resource


def active_patch(active: bool) -> dict[str, Any]:
    """Entra's PATCH for a leaver (or a returner): `Replace`, and the value a string."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": "True" if active else "False"}],
    }


@dataclass(frozen=True)
class Outcome:
    """What the application answered to the last push of one person, for the people page."""

    action: str
    """"provision" or "deprovision"."""
    status: int | None
    """The last HTTP status, or None when the application could not be reached."""
    detail: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def __str__(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{self.action}: {answer} ({self.detail})" if self.detail else f"{self.action}: {answer}"


class PushFailed(Exception):
    """The application refused a request or could not be reached; becomes the person's Outcome."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class ProvisioningService:
    """Pushes the people of `tenant_id` to the SCIM endpoint at `url` with the bearer `token`."""

    url: str
    token: str = field(repr=False)
    tenant_id: str
    timeout: float = 10.0
    scim_ids: dict[str, str] = field(default_factory=dict)
    """objectId -> the id the application gave the person."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """objectId -> the last push's outcome."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def provision(self, user: User) -> Outcome:
        """Push the person as active: created, or matched and re-enabled (PATCH "True")."""
        return self._push(user, active=True, action="provision")

    def deprovision(self, user: User) -> Outcome:
        """Push the person as a leaver: PATCH "False" (or created inactive if never pushed)."""
        return self._push(user, active=False, action="deprovision")

    def outcome(self, oid: str) -> Outcome | None:
        with self._lock:
            return self.outcomes.get(oid)

    def _push(self, user: User, *, active: bool, action: str) -> Outcome:
        with self._lock:  # one push at a time: the ids and outcomes stay consistent
            try:
                status = self._send(user, active)
                outcome = Outcome(action, status, "active" if active else "inactive")
            except PushFailed as failed:
                outcome = Outcome(action, failed.status, failed.detail)
            self.outcomes[user.oid] = outcome
            return outcome

    def _send(self, user: User, active: bool) -> int:
        """The requests Entra sends for this change; the last answer's status."""
        scim_id = self.scim_ids.get(user.oid)
        if scim_id is None:
            created = self._request("POST", "/Users", json=user_resource(user, active=active), accept=(201, 409))
            if created.status_code == 201:
                self.scim_ids[user.oid] = str(created.json()["id"])
                return created.status_code
            scim_id = self.scim_ids[user.oid] = self._look_up(user.oid)
        patched = self._request("PATCH", f"/Users/{scim_id}", json=active_patch(active), accept=(200, 204))
        return patched.status_code

    def _look_up(self, oid: str) -> str:
        """Entra's matching query after a 409: the user whose externalId is the objectId."""
        found = self._request("GET", "/Users", params={"filter": f'externalId eq "{oid}"'}, accept=(200,)).json()
        resources = found.get("Resources") or []
        if not resources:
            raise PushFailed(409, "the application reports a conflict but no user with this externalId")
        return str(resources[0]["id"])

    def _request(self, method: str, path: str, *, accept: tuple[int, ...], **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": CONTENT_TYPE}
        if "json" in kwargs:
            headers["Content-Type"] = CONTENT_TYPE
        try:
            response = requests.request(method, f"{self.url.rstrip('/')}{path}", headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise PushFailed(None, f"could not reach the application ({type(exc).__name__})") from exc
        if response.status_code not in accept:
            raise PushFailed(response.status_code, _error_detail(response))
        return response


def _error_detail(response: requests.Response) -> str:
    """An RFC 7644 error's scimType and detail, shortened; never the request (it has the token)."""
    try:
        error = response.json()
    except ValueError:
        return f"{response.reason or 'error'} (not SCIM JSON)"
    if not isinstance(error, dict):
        return "not a SCIM error"
    parts = [str(error.get(name)) for name in ("scimType", "detail") if error.get(name)]
    return ": ".join(parts)[:200] or (response.reason or "error")
