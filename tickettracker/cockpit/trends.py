"""Daily history rebuilt from the items' own dates, where that is exact: items created and resolved per UTC day and
the open backlog at the end of each day. It fills the trend charts before (and between) KPI snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, not_, or_, select, union_all

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
    closing = _closing_per_day(scope, closed, start, end)
    backlog = _backlog_before(scope, open_categories, closed, start)
    rows = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        backlog += created.get(day, {}).get("opened", 0) - closing.get(day, 0)
        rows.append({"day": day.date(), "created": created.get(day, {}).get("created", 0),
                     "resolved": resolved.get(day, {}).get("resolved", 0), "open": backlog})
    return rows


def _closing_per_day(scope: list[ColumnElement[bool]], closed: ColumnElement[bool], start: datetime,
                     end: datetime) -> dict[datetime, int]:
    """Return how many closed items left the backlog (at _closed_at) in each UTC day of [start, end).

    greatest(resolved_at, created_at) falls in the window either for an item resolved in it (and created before its
    end) or for one resolved before it but created in it. The two parts are disjoint, and each is a range of one
    cockpit index (resolved, created) instead of a scan of every row."""
    resolved_in = _binned(_closed_at(), [*scope, closed, Ticket.resolved_at >= start, Ticket.resolved_at < end,
                                         Ticket.created_at < end], start)
    created_in = _binned(Ticket.created_at, [*scope, closed, Ticket.resolved_at < start,
                                             Ticket.created_at >= start, Ticket.created_at < end], start)
    parts = union_all(resolved_in, created_in).subquery("closing")
    stmt = select(parts.c.day, func.sum(parts.c.n).label("n")).group_by(parts.c.day)
    return {row.day.astimezone(timezone.utc): int(row.n) for row in db.session.execute(stmt)}


def _binned(column: Any, where: list[ColumnElement[bool]], start: datetime) -> Select[Any]:
    """Count the rows matching where per 24-hour bin of column from start (midnight UTC: UTC days)."""
    day = func.date_bin(DAY_STEP, column, start)
    return select(day.label("day"), func.count().label("n")).where(*where).group_by(day)


def _backlog_before(scope: list[ColumnElement[bool]], open_categories: tuple[str, ...], closed: ColumnElement[bool],
                    start: datetime) -> int:
    """Return how many placeable items were in the backlog at start: created before it and either still open, or
    closed at or after it (for an item created before start, greatest(resolved_at, created_at) >= start is
    resolved_at >= start). Two counts, each over the open or the resolved cockpit index."""
    still_open = select(func.count()).where(*scope, status_in(*open_categories), Ticket.created_at < start)
    closed_later = select(func.count()).where(*scope, closed, Ticket.created_at < start, Ticket.resolved_at >= start)
    return int(db.session.scalar(select(still_open.scalar_subquery() + closed_later.scalar_subquery())) or 0)


def _per_day(column: Any, scope: list[ColumnElement[bool]], start: datetime, end: datetime,
             **counts: Any) -> dict[datetime, dict[str, int]]:
    """Return named counts of the items whose column falls in each UTC day of [start, end)."""
    day = func.date_bin(DAY_STEP, column, start)  # start is midnight UTC, so 24-hour bins are UTC days
    stmt = (select(day.label("day"), *(expr.label(name) for name, expr in counts.items()))
            .where(*scope, column >= start, column < end).group_by(day))
    return {row.day.astimezone(timezone.utc): {name: getattr(row, name) for name in counts}
            for row in db.session.execute(stmt)}
