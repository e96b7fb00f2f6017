"""One protocol exchange: its database transaction, its queued audit events, and the request facts
the audit and error answers quote.

The web layer opens an exchange around each protocol request (`opened`) after opening its write
transaction; every storage hook of the authorization server writes through `db()`. Audit events
are queued (`note`) and recorded as the transaction's last statements (`record_events`). A
context variable carries the exchange, so the issuer needs neither Flask's `g` nor the Runtime.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hub.core.audit import AuditLog, RequestContext

QueuedEvent = tuple[str, str, dict[str, Any]]
"""(event type, outcome, AuditLog.record's keyword arguments, `details` among them)."""


@dataclass
class Exchange:
    """One protocol request as the issuer sees it, whatever the web framework."""

    endpoint: str
    """The endpoint's short name (`token`, `authorize`...): the default audit event of a refusal."""
    values: Mapping[str, str]
    """The query and form parameters together (what a refusal's audit event quotes)."""
    form: Mapping[str, str]
    """The form body alone (RFC 6749 §5.2: a token request's grant_type)."""
    session: Session | None = None
    """The request's write transaction, bound once the web layer has opened it."""
    events: list[QueuedEvent] = field(default_factory=list)
    client_id: str | None = None
    """The client id, once the application authenticated (never a claimed one)."""


_current: ContextVar[Exchange] = ContextVar("hub_issuer_exchange")


@contextmanager
def opened(exchange: Exchange) -> Iterator[Exchange]:
    """Make `exchange` the current one for the code inside the block."""
    token = _current.set(exchange)
    try:
        yield exchange
    finally:
        _current.reset(token)


def current() -> Exchange:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("No issuer exchange is open: wrap the protocol request in context.opened().") from None


def db() -> Session:
    """The exchange's write transaction; every storage hook writes through it."""
    session = current().session
    if session is None:
        raise RuntimeError("The issuer exchange has no transaction yet: bind one to exchange.session first.")
    return session


def note(event_type: str, outcome: str = "success", **fields: Any) -> None:
    """Queue an audit event; the web layer records the queue as the transaction's last statements."""
    current().events.append((event_type, outcome, fields))


def record_events(audit: AuditLog, session: Session, events: list[QueuedEvent], context: RequestContext) -> None:
    """Record the queued events in `session` (the exchange's transaction, before it commits)."""
    for event_type, outcome, fields in events:
        fields = dict(fields)
        details = dict(fields.pop("details", {}) or {})
        audit.record(session, event_type, outcome, context=context, details=details, **fields)
