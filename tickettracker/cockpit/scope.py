"""What a cockpit query covers: dashboard filters, scopes, time windows and the SQL helpers the KPIs share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import ColumnElement, Text, func, literal, literal_column, not_, select

from tickettracker.core.vocabulary import SOURCES
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket
from tickettracker.store.queries import BadQuery

PERIODS = (7, 30, 90)
WEEKS = 12
FW_SOURCES = ("freshservice", "freshdesk")
FW_KINDS = ("incident", "service_request")
FW_OPEN = ("open", "pending")
JIRA_OPEN = ("todo", "in_progress")
AGE_LABELS = {"0-2": "0–2 d", "3-7": "3–7 d", "8-14": "8–14 d", "15-30": "15–30 d", "over-30": "> 30 d"}
WEEK_STEP = literal_column("interval '168 hours'")


@dataclass(frozen=True)
class CockpitFilters:
    """What the dashboard is narrowed to: one source, a group (helpdesk), a project (Jira), a period in days."""

    source: str | None = None
    group: str | None = None
    project: str | None = None
    period: int = 30

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CockpitFilters:
        """Parse request arguments, rejecting unknown sources and periods."""
        source = (args.get("source") or "").strip() or None
        if source is not None and source not in SOURCES:
            raise BadQuery(f"source must be one of {', '.join(SOURCES)}")
        raw_period = (args.get("period") or "").strip() or "30"
        if raw_period not in {str(p) for p in PERIODS}:
            raise BadQuery(f"period must be one of {', '.join(str(p) for p in PERIODS)} (days)")
        group = (args.get("group") or "").strip() or None
        project = (args.get("project") or "").strip() or None
        return cls(source, group, project, int(raw_period))

    def state(self) -> dict[str, str]:
        """Return the URL parameters that reproduce these filters (defaults left out)."""
        params = {"source": self.source, "group": self.group, "project": self.project}
        state = {key: value for key, value in params.items() if value}
        if self.period != 30:
            state["period"] = str(self.period)
        return state

    def as_dict(self) -> dict[str, Any]:
        """Return the filters as plain values."""
        return {"source": self.source, "group": self.group, "project": self.project, "period": self.period}

    @property
    def shows_incidents(self) -> bool:
        """Return whether the helpdesk section is in scope."""
        return self.source in (None, *FW_SOURCES)

    @property
    def shows_jira(self) -> bool:
        """Return whether the Jira section is in scope."""
        return self.source in (None, "jira")

    def incident_params(self, **extra: str) -> dict[str, str]:
        """Return tracker (incidents view) filters that reproduce this scope, plus extra ones."""
        base = {"source": self.source if self.source in FW_SOURCES else None, "group": self.group}
        return {**{k: v for k, v in base.items() if v}, **extra}

    def jira_params(self, **extra: str) -> dict[str, str]:
        """Return tracker (development view) filters that reproduce this scope, plus extra ones."""
        return {**({"project": self.project} if self.project else {}), **extra}


def incident_scope(filters: CockpitFilters) -> list[ColumnElement[bool]]:
    """Return the WHERE clauses of the helpdesk section (live, non-spam tickets in scope)."""
    clauses = [Ticket.kind.in_(FW_KINDS), not_(Ticket.is_deleted), not_(Ticket.is_spam)]
    if filters.source:  # the kinds already imply the helpdesk sources
        clauses.append(Ticket.source == filters.source)
    if filters.group:
        clauses.append(Ticket.group_name == filters.group)
    return clauses


def jira_scope(filters: CockpitFilters) -> list[ColumnElement[bool]]:
    """Return the WHERE clauses of the Jira section."""
    clauses = [Ticket.kind == "jira_issue", not_(Ticket.is_deleted), not_(Ticket.is_spam)]
    if filters.source:  # the kind already implies source jira
        clauses.append(Ticket.source == filters.source)
    if filters.project:
        clauses.append(Ticket.project == filters.project)
    return clauses


def week_start(moment: datetime) -> datetime:
    """Return Monday 00:00 UTC of the ISO week that contains the moment."""
    day = moment.astimezone(timezone.utc).date()
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), timezone.utc)


def weeks_window(now: datetime) -> tuple[datetime, datetime]:
    """Return the first and last week starts of the 12-week charts (the last is the current week)."""
    last = week_start(now)
    return last - timedelta(weeks=WEEKS - 1), last


def period_window(filters: CockpitFilters, now: datetime) -> tuple[date, date]:
    """Return the first and last UTC day (both included) of the period: today and the days before it."""
    today = now.astimezone(timezone.utc).date()
    return today - timedelta(days=filters.period - 1), today


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Return [midnight UTC of first, midnight UTC after last) as datetimes."""
    start = datetime.combine(first, datetime.min.time(), timezone.utc)
    return start, datetime.combine(last + timedelta(days=1), datetime.min.time(), timezone.utc)


def status_in(*categories: str) -> ColumnElement[bool]:
    """Match status categories written as SQL literals, so a cached generic plan can still use partial indexes."""
    return Ticket.status_category.in_([literal(c, Text, literal_execute=True) for c in categories])


def count_if(condition: ColumnElement[bool]) -> Any:
    """Return count(*) FILTER (WHERE condition)."""
    return func.count().filter(condition)


def p50_p90(duration: Any) -> Any:
    """Return percentile_cont of an interval at 0.5 and 0.9 in one sort (an array of two intervals, or NULL)."""
    return func.percentile_cont(literal_column("ARRAY[0.5, 0.9]::float8[]")).within_group(duration)


def in_units(durations: list[timedelta] | None, unit: timedelta) -> tuple[float | None, float | None]:
    """Return the two percentiles of p50_p90 in hours or days, rounded to one decimal."""
    if not durations:
        return None, None
    return round(durations[0] / unit, 1), round(durations[1] / unit, 1)


def weekly_counts(scope: list[ColumnElement[bool]], first: datetime, last: datetime,
                  series: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per week from first to last: for each named timestamp column, how many fall in that week."""
    end = last + timedelta(weeks=1)
    offsets = (func.generate_series(0, (last - first) // timedelta(weeks=1))  # integers: the planner sees 12 rows
               .table_valued("n").render_derived(name="offsets"))
    weeks = select((literal(first) + offsets.c.n * WEEK_STEP).label("week")).cte("weeks")
    stmt = select(weeks.c.week)
    for name, column in series.items():
        # first is a Monday 00:00 UTC, so 168-hour bins from it are ISO weeks in UTC: the same buckets as
        # date_trunc('week', column, 'UTC') in any session time zone, without its per-row time-zone work.
        bucket = func.date_bin(WEEK_STEP, column, first)
        sub = (select(bucket.label("week"), func.count().label("n"))
               .where(*scope, column >= first, column < end).group_by(bucket).subquery(name))
        stmt = stmt.add_columns(func.coalesce(sub.c.n, 0).label(name)).outerjoin(sub, sub.c.week == weeks.c.week)
    rows = db.session.execute(stmt.order_by(weeks.c.week))
    return [{"week": row.week.astimezone(timezone.utc).date(), **{name: getattr(row, name) for name in series}}
            for row in rows]


def distinct_values(column: Any) -> list[str]:
    """Return the distinct non-empty values of an indexed column by skipping through its index (few values)."""
    first = select(column.label("value")).where(column.is_not(None)).order_by(column).limit(1)
    walk = first.cte("walk", recursive=True)
    following = (select(column).where(column > walk.c.value).order_by(column).limit(1)
                 .scalar_subquery())
    walk = walk.union_all(select(following).where(walk.c.value.is_not(None)))
    return [v for v in db.session.scalars(select(walk.c.value).where(walk.c.value.is_not(None))) if v]


def filter_choices() -> dict[str, list[str]]:
    """Return the helpdesk groups and Jira projects the filter menus offer."""
    return {"group": distinct_values(Ticket.group_name), "project": distinct_values(Ticket.project)}
