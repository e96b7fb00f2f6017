"""The console's overview: headline counts and the 30-day sign-in chart, drawn as inline SVG.

The chart is SVG built on the server (no scripts, no CDN: the CSP allows neither) with a
<title>/<desc>, a <title> on every bar, and the same numbers as a table for screen readers
and for people who prefer figures. Counts and chart are cached for a short while per process,
because they read whole indexes and an overview a minute old is still true enough.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hub.core.models import AuditEvent, LinkedAccount, User, utcnow

DAYS = 30
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class DayCount:
    day: date
    success: int = 0
    failure: int = 0


@dataclass(frozen=True)
class ProviderSeries:
    provider_id: str
    days: tuple[DayCount, ...]

    @property
    def success(self) -> int:
        return sum(d.success for d in self.days)

    @property
    def failure(self) -> int:
        return sum(d.failure for d in self.days)


@dataclass(frozen=True)
class Overview:
    users: int
    disabled_users: int
    accounts_by_provider: dict[str, int]
    needs_reauth: int
    series: tuple[ProviderSeries, ...]
    first_day: date
    computed_at: datetime
    admins: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def linked_accounts(self) -> int:
        return sum(self.accounts_by_provider.values())


def compute(session: Session, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    users, disabled, admins = session.execute(
        select(
            func.count(),
            func.count(User.disabled_at),
            func.coalesce(func.sum(case((User.is_admin.is_(True), 1), else_=0)), 0),
        ).select_from(User)
    ).one()
    by_provider = dict(
        session.execute(
            select(LinkedAccount.provider_id, func.count()).group_by(LinkedAccount.provider_id).order_by(LinkedAccount.provider_id)
        ).all()
    )
    needs_reauth = session.scalar(
        select(func.count()).select_from(LinkedAccount).where(LinkedAccount.needs_reauth.is_(True))
    ) or 0
    first_day = (now - timedelta(days=DAYS - 1)).date()
    return Overview(
        users=users,
        disabled_users=disabled,
        accounts_by_provider=by_provider,
        needs_reauth=needs_reauth,
        series=signin_series(session, first_day, now),
        first_day=first_day,
        computed_at=now,
        admins=int(admins or 0),
    )


def signin_series(session: Session, first_day: date, now: datetime) -> tuple[ProviderSeries, ...]:
    """`signin` events per provider, day (UTC) and outcome, from the covering index."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    day = _day_expression(session)
    rows = session.execute(
        select(AuditEvent.provider_id, day.label("day"), AuditEvent.outcome, func.count())
        .where(AuditEvent.type == "signin", AuditEvent.occurred_at >= start)
        .group_by(AuditEvent.provider_id, day, AuditEvent.outcome)
    ).all()
    counts: dict[str, dict[date, dict[str, int]]] = {}
    for provider_id, day_value, outcome, count in rows:
        as_date = day_value if isinstance(day_value, date) else date.fromisoformat(str(day_value)[:10])
        per_day = counts.setdefault(provider_id or "(none)", {}).setdefault(as_date, {})
        per_day[outcome] = per_day.get(outcome, 0) + count
    days = [first_day + timedelta(days=i) for i in range(DAYS)]
    return tuple(
        ProviderSeries(
            provider_id,
            tuple(
                DayCount(d, per_day.get(d, {}).get("success", 0), per_day.get(d, {}).get("failure", 0))
                for d in days
            ),
        )
        for provider_id, per_day in sorted(counts.items())
    )


def _day_expression(session: Session) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(AuditEvent.occurred_at, 1, 10)  # stored as ISO text, in UTC
    return func.date(func.timezone("UTC", AuditEvent.occurred_at))


class OverviewCache:
    """One overview per process, recomputed when older than CACHE_SECONDS."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._value: Overview | None = None
        self._at = 0.0

    def get(self, session: Session) -> Overview:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.seconds:
                self._value = compute(session)
                self._at = time.monotonic()
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None


# --- the chart ----------------------------------------------------------------------------------

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 160, 36, 22, 10


def chart_svg(series: ProviderSeries, provider_name: str) -> Markup:
    """Bars per day: sign-ins (upwards, blue) and failures (red) side by side, labelled."""
    peak = max([max(d.success, d.failure) for d in series.days] + [1])
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / len(series.days)
    bar = max(slot / 2 - 1, 1)
    title = f"Sign-ins and failures per day for {provider_name}"
    desc = (
        f"{series.success} successful sign-ins and {series.failure} failures over the last "
        f"{len(series.days)} days, from {series.days[0].day:%d %b} to {series.days[-1].day:%d %b}. "
        f"The table below lists each day."
    )
    ident = f"chart-{_safe_id(series.provider_id)}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>',
    ]
    for fraction in (0.5, 1.0):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - 4}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{round(peak * fraction)}</text>')
    base_y = PAD_TOP + plot_h
    parts.append(f'<line class="base" x1="{PAD_LEFT}" x2="{WIDTH - 4}" y1="{base_y}" y2="{base_y}"/>')
    for index, day in enumerate(series.days):
        x = PAD_LEFT + index * slot
        for offset, value, css, noun in ((0.0, day.success, "ok", "sign-in"), (bar + 1, day.failure, "fail", "failure")):
            height = plot_h * value / peak
            label = f"{day.day:%d %b}: {value} {noun}{'' if value == 1 else 's'}"
            parts.append(
                f'<rect class="bar {css}" x="{x + offset:.1f}" y="{base_y - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" data-day="{day.day.isoformat()}" data-value="{value}"><title>{escape(label)}</title></rect>'
            )
        last = len(series.days) - 1
        if index % 7 == 0 or (index == last and last % 7 >= 3):  # no last label on top of a weekly one
            parts.append(f'<text class="axis" x="{x + slot / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{day.day:%d %b}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built here from numbers and escape()d labels


def _safe_id(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text)[:40] or "x"
