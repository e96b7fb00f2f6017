"""Audit events for failures anyone can cause, aggregated so a flood cannot fill the audit log.

A forged callback or logout request costs the sender one HTTP request; an audit event per
request would cost the hub a row (and a chain append) each. So these failures are counted per
kind (type, reason, provider) and source address in a fixed window, and only the 1st, 10th,
100th, ... of a window writes an event, carrying the count so far: a window's event count grows
with the logarithm of the flood, and the highest count recorded is within a factor of ten of
what happened. The counters live in the rate limiter's storage (hub.ratelimit), so in
production every worker shares them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub import ratelimit
from hub.audit import clean_text
from hub.web import audit_context, runtime

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def is_milestone(count: int) -> bool:
    """1, 10, 100, 1000, ...: the counts of a window that write an event."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


def record_failure(
    type: str,
    *,
    reason: str,
    provider_id: str | None = None,
    per_address: bool = True,
    once: bool = False,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Count a failure of this request and audit it when its count is a milestone; returns
    whether an event was written. `per_address=False` counts every source together (for a
    hub-wide condition such as a full table); `once` writes only the window's first event."""
    source = ratelimit.client_address() if per_address else "all"
    kind = clean_text(f"{type}:{reason}:{provider_id or '-'}", 200)
    try:
        count = ratelimit.rate_limits().count(f"audit:{kind}", source, WINDOW_SECONDS)
    except Exception:  # the counter's storage is down: audit rather than lose the event
        log.exception("could not count a %s failure; auditing it on its own", clean_text(type, 64))
        count = 1
    if count != 1 and (once or not is_milestone(count)):
        return False
    rt = runtime()
    rt.audit.record_failure(
        rt.db,
        type,
        reason=reason,
        provider_id=provider_id,
        context=audit_context(),
        details={
            **(details or {}),
            "count": count,
            "window_seconds": WINDOW_SECONDS,
            "counted_per": "address" if per_address else "hub",
        },
    )
    return True
