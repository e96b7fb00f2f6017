"""Audit events for failures anyone can cause, aggregated so a flood cannot fill the audit log.

A forged callback or logout request costs the sender one HTTP request; an audit event per
request would cost the hub a row (and a chain append) each. So these failures are counted per
kind (type, reason, provider) and source address in a fixed window, and only the 1st, 10th,
100th, ... of a window writes an event, carrying the count so far: a window's event count grows
with the logarithm of the flood, and the highest count recorded is within a factor of ten of
what happened. The counters live in the rate limiter's storage (hub.web.ratelimit), so in
production every worker shares them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hub.core.audit import clean_text
from hub.web import ratelimit
from hub.web.request import audit_context, runtime

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def is_milestone(count: int) -> bool:
    """1, 10, 100, 1000, ...: the counts of a window that write an event."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


def milestone(type: str, *, reason: str, provider_id: str | None = None, source: str | None = None) -> int | None:
    """Count a failure of this request per kind (type, reason, provider) and `source` (by
    default the client address) and return the count when it is a milestone to audit, else
    None. For callers that write the event in their own transaction; the kind's parts must
    come from a closed set (never a value the caller chose), or each new value is a new count."""
    source = source or ratelimit.client_address()
    kind = clean_text(f"{type}:{reason}:{provider_id or '-'}", 200)
    try:
        count = ratelimit.rate_limits().count(f"audit:{kind}", source, WINDOW_SECONDS)
    except Exception:  # the counter's storage is down: audit rather than lose the event
        log.exception("could not count a %s failure; auditing it on its own", clean_text(type, 64))
        count = 1
    return count if is_milestone(count) else None


def aggregate_details(count: int, counted_per: str) -> dict[str, Any]:
    """What an aggregated event adds to its details: how many so far, in which window, per what."""
    return {"count": count, "window_seconds": WINDOW_SECONDS, "counted_per": counted_per}


def record_failure(
    type: str,
    *,
    reason: str,
    provider_id: str | None = None,
    per_address: bool = True,
    once: bool = False,
    source: str | None = None,
    subject_user_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Count a failure of this request and audit it when its count is a milestone; returns
    whether an event was written. `per_address=False` counts every source together (for a
    hub-wide condition such as a full table); `source` counts per something else that the
    caller proved (an API key: "api_key:<id>"); `once` writes only the window's first event.
    `subject_user_id` names the person of the event that is written (the first of its window)."""
    if source is not None:
        counted_per = source.partition(":")[0]
    elif per_address:
        counted_per, source = "address", ratelimit.client_address()
    else:
        counted_per, source = "hub", "all"
    count = milestone(type, reason=reason, provider_id=provider_id, source=source)
    if count is None or (once and count != 1):
        return False
    rt = runtime()
    rt.audit.record_failure(
        rt.db,
        type,
        reason=reason,
        provider_id=provider_id,
        subject_user_id=subject_user_id,
        context=audit_context(),
        details={**(details or {}), **aggregate_details(count, counted_per)},
    )
    return True
