"""Who acts through which front door, and the one audit event shape every action records.

An action commits its change together with a success event, or raises a HubError after writing
the failure event in its own transaction, so a refused change leaves a trace and changes
nothing. Either way the event names the acting person (`actor_user_id`, None for an operator at
the shell or a service) and the front door in `details["via"]`, so the same change reads the
same in the audit log whoever made it and wherever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from hub.core.audit import AuditLog, RequestContext, clean_text
from hub.core.db import Database
from hub.core.errors import HubError

Via = Literal["console", "cli", "account", "api", "scim", "upstream_check"]
"""The front door: the admin console, the `hub` command, the person's own pages, the HTTP API,
a directory's SCIM provisioning, the hub's own re-check of an account at its provider."""


@dataclass(frozen=True)
class Actor:
    """Who asks for a change (a signed-in person, or None: an operator at the shell, a service),
    through which front door, and from where (the request, if any)."""

    user_id: int | None
    via: Via
    context: RequestContext | None = None
    directory: str | None = None
    """Over SCIM: the provider whose directory asks (each provider's directory speaks for itself)."""

    @property
    def disables_as(self) -> str:
        """What `users.disabled_by` records: which directory disabled the user, or "admin" (the
        console, the CLI, a re-check). A directory lifts only its own disable."""
        return f"provisioning:{self.directory}" if self.via == "scim" and self.directory else "admin"


class ActionRefused(HubError):
    """The action does not apply (yourself, already done, last account): nothing changed."""

    code = "admin_action_refused"
    status = 409
    title = "This action was not carried out"
    hint = "Nothing was changed. Go back to the page you came from."


@dataclass
class Trace:
    """What an action learnt before it failed, for its failure event (the provider, say)."""

    provider_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record(
    audit: AuditLog,
    session: Session,
    event: str,
    actor: Actor,
    *,
    subject_user_id: int | None = None,
    provider_id: str | None = None,
    **details: Any,
) -> None:
    """The success event, in the action's own transaction. A directory's action (SCIM) is
    about its provider unless the event names another."""
    audit.record(
        session,
        event,
        "success",
        actor_user_id=actor.user_id,
        subject_user_id=subject_user_id,
        provider_id=provider_id or actor.directory,
        context=actor.context,
        details={**details, "via": actor.via},
    )


def record_refusal(
    db: Database,
    audit: AuditLog,
    event: str,
    actor: Actor,
    error: HubError,
    *,
    subject_user_id: int | None = None,
    provider_id: str | None = None,
    **details: Any,
) -> None:
    """The failure event, in a transaction of its own (the action's rolled back). The error is
    marked `audited`, so the web layer's refusal handler does not audit it a second time."""
    error.audited = True
    audit.record_failure(
        db,
        event,
        reason=error.code,
        actor_user_id=actor.user_id,
        subject_user_id=subject_user_id,
        provider_id=provider_id or actor.directory,
        context=actor.context,
        details={**details, "via": actor.via, "message": clean_text(error.message, 200)},
    )


@contextmanager
def refusals_audited(
    db: Database, audit: AuditLog, event: str, actor: Actor, *, subject_user_id: int | None = None, **details: Any
) -> Iterator[Trace]:
    """Run an action's body; a HubError it raises is audited as `event`'s failure, then re-raised."""
    trace = Trace(details=dict(details))
    try:
        yield trace
    except HubError as error:
        record_refusal(
            db, audit, event, actor, error,
            subject_user_id=subject_user_id, provider_id=trace.provider_id, **trace.details,
        )
        raise


def not_confirmed(
    db: Database, audit: AuditLog, event: str, actor: Actor, *, subject_user_id: int | None = None, **details: Any
) -> ActionRefused:
    """A form's missing second step (a forged or replayed form, a mis-click): audited, returned
    for the caller to raise, nothing changed."""
    error = ActionRefused(
        "This action was not confirmed.",
        code="not_confirmed",
        hint="Use the action's button on the page and confirm on the next page.",
    )
    record_refusal(db, audit, event, actor, error, subject_user_id=subject_user_id, **details)
    return error
