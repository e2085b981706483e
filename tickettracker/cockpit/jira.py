"""Jira KPIs: status categories per project, created vs done per week, work in progress and stuck issues."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select, union_all

from tickettracker.cockpit.scope import (
    AGE_LABELS,
    JIRA_OPEN,
    CockpitFilters,
    count_if,
    day_bounds,
    in_units,
    jira_scope,
    p50_p90,
    period_window,
    status_in,
    weekly_counts,
    weeks_window,
)
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket
from tickettracker.store.queries import AGE_BUCKETS, age_clause, stuck_clause

CATEGORIES = ("todo", "in_progress", "done")
CATEGORY_LABELS = {"todo": "To do", "in_progress": "In progress", "done": "Done"}
DAY = timedelta(days=1)


def jira_status_by_project(filters: CockpitFilters, now: datetime) -> dict[str, Any]:
    """Return per project the open issues by status category and the issues done in the period; totals; stuck."""
    first_day, last_day = period_window(filters, now)
    start, end = day_bounds(first_day, last_day)
    open_part = (select(Ticket.project, Ticket.status_category, func.count().label("n"),
                        count_if(stuck_clause(now)).label("stuck"))
                 .where(*jira_scope(filters), status_in(*JIRA_OPEN)).group_by(Ticket.project, Ticket.status_category))
    done_part = (select(Ticket.project, literal("done"), func.count(), literal(0))
                 .where(*jira_scope(filters), status_in("done"), Ticket.resolved_at >= start, Ticket.resolved_at < end)
                 .group_by(Ticket.project))
    projects: dict[str | None, dict[str, Any]] = {}
    stuck = 0
    for row in db.session.execute(union_all(open_part, done_part)):
        entry = projects.setdefault(row.project, {"project": row.project, **dict.fromkeys(CATEGORIES, 0)})
        entry[row.status_category] += row.n
        stuck += row.stuck
    ordered = sorted(projects.values(), key=lambda e: (-(e["todo"] + e["in_progress"]), e["project"] or "~"))
    totals = {category: sum(e[category] for e in ordered) for category in CATEGORIES}
    return {"first_day": first_day, "last_day": last_day, "projects": ordered,
            "totals": {**totals, "open": totals["todo"] + totals["in_progress"], "stuck": stuck}}


def jira_flow(filters: CockpitFilters, now: datetime) -> list[dict[str, Any]]:
    """Return created and done (resolution date) counts per ISO week over the last 12 weeks."""
    first, last = weeks_window(now)
    return weekly_counts(jira_scope(filters), first, last, {"created": Ticket.created_at, "done": Ticket.resolved_at})


def jira_wip(filters: CockpitFilters, now: datetime) -> dict[str, Any]:
    """Return the work in progress: how many issues, their age since creation (median, p90, oldest) and age buckets."""
    age = literal(now) - Ticket.created_at
    ages = [count_if(age_clause(key, now)).label(f"age:{key}") for key in AGE_BUCKETS]
    stmt = (select(func.count().label("count"), p50_p90(age).label("quantiles"), func.max(age).label("oldest"), *ages)
            .where(*jira_scope(filters), status_in("in_progress")))
    row = db.session.execute(stmt).one()._asdict()
    p50, p90 = in_units(row["quantiles"], DAY)
    return {"count": row["count"], "p50_days": p50, "p90_days": p90,
            "oldest_days": None if row["oldest"] is None else round(row["oldest"] / DAY, 1),
            "ageing": [{"bucket": key, "label": AGE_LABELS[key], "count": row[f"age:{key}"]} for key in AGE_BUCKETS]}
