"""Daily history rebuilt from the items' own dates, where that is exact: items created and resolved per UTC day and
the open backlog at the end of each day. It fills the trend charts before (and between) KPI snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, not_, or_, select

from tickettracker.cockpit.scope import (
    FW_OPEN,
    JIRA_OPEN,
    CockpitFilters,
    count_if,
    day_bounds,
    incident_scope,
    jira_scope,
    status_in,
)
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket

DAY_STEP = literal_column("interval '24 hours'")
SECTIONS = {"incidents": (incident_scope, FW_OPEN), "jira": (jira_scope, JIRA_OPEN)}


def _closed_at() -> Any:
    """When a closed item left the backlog: its resolution time (never before its creation)."""
    return func.greatest(Ticket.resolved_at, Ticket.created_at)


def _rules(open_categories: tuple[str, ...]) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Return (placeable, closed): items whose time in the backlog the dates tell exactly, and those that left it.

    An open item is in the backlog from its creation on; a closed one from creation until its resolution time. A
    closed item without a resolution time cannot be placed, so it counts on no day (nor does it in a snapshot)."""
    is_open = status_in(*open_categories)
    closed = and_(not_(is_open), Ticket.resolved_at.is_not(None))
    return or_(is_open, closed), closed


def daily_history(section: str, filters: CockpitFilters, now: datetime, days: int) -> list[dict[str, Any]]:
    """Return per UTC day of the window (oldest first): created, resolved, and open at the end of the day."""
    scope_of, open_categories = SECTIONS[section]
    scope = scope_of(filters)
    placeable, closed = _rules(open_categories)
    today = now.astimezone(timezone.utc).date()
    start, end = day_bounds(today - timedelta(days=days - 1), today)
    created = _per_day(Ticket.created_at, scope, start, end, created=func.count(), opened=count_if(placeable))
    resolved = _per_day(Ticket.resolved_at, scope, start, end, resolved=func.count())
    closing = _per_day(_closed_at(), [*scope, closed], start, end, closed=func.count())
    backlog = db.session.scalar(select(func.count()).where(
        *scope, placeable, Ticket.created_at < start, or_(not_(closed), _closed_at() >= start)))
    rows = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        backlog += created.get(day, {}).get("opened", 0) - closing.get(day, {}).get("closed", 0)
        rows.append({"day": day.date(), "created": created.get(day, {}).get("created", 0),
                     "resolved": resolved.get(day, {}).get("resolved", 0), "open": backlog})
    return rows


def _per_day(column: Any, scope: list[ColumnElement[bool]], start: datetime, end: datetime,
             **counts: Any) -> dict[datetime, dict[str, int]]:
    """Return named counts of the items whose column falls in each UTC day of [start, end)."""
    day = func.date_bin(DAY_STEP, column, start)  # start is midnight UTC, so 24-hour bins are UTC days
    stmt = (select(day.label("day"), *(expr.label(name) for name, expr in counts.items()))
            .where(*scope, column >= start, column < end).group_by(day))
    return {row.day.astimezone(timezone.utc): {name: getattr(row, name) for name in counts}
            for row in db.session.execute(stmt)}
