"""Helpdesk KPIs (Freshservice and Freshdesk incidents and service requests), each computed in SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tickettracker.cockpit.scope import (
    AGE_LABELS,
    FW_OPEN,
    FW_SOURCES,
    CockpitFilters,
    count_if,
    day_bounds,
    in_units,
    incident_scope,
    p50_p90,
    period_window,
    status_in,
    weekly_counts,
    weeks_window,
)
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket
from tickettracker.store.queries import (
    AGE_BUCKETS,
    age_clause,
    at_risk_clause,
    fr_overdue_clause,
    overdue_clause,
    unassigned_clause,
)

TILE_KEYS = ("open", "overdue", "at_risk", "fr_overdue", "unassigned", "escalated")


def _backlog_columns(now: datetime) -> list[Any]:
    counts = {"open": func.count(), "overdue": count_if(overdue_clause(now)),
              "at_risk": count_if(at_risk_clause(now)), "fr_overdue": count_if(fr_overdue_clause(now)),
              "unassigned": count_if(unassigned_clause()), "escalated": count_if(Ticket.is_escalated)}
    ages = {f"age:{key}": count_if(age_clause(key, now)) for key in AGE_BUCKETS}
    return [expr.label(name) for name, expr in {**counts, **ages}.items()]


def incident_backlog(filters: CockpitFilters, now: datetime) -> dict[str, Any]:
    """Return the open backlog: tile counts, by priority, by source and by age, from one grouped query."""
    stmt = (select(Ticket.source, Ticket.priority_code, Ticket.priority_label, *_backlog_columns(now))
            .where(*incident_scope(filters), status_in(*FW_OPEN))
            .group_by(Ticket.source, Ticket.priority_code, Ticket.priority_label))
    rows = [row._asdict() for row in db.session.execute(stmt)]
    total = {key: sum(row[key] for row in rows) for key in TILE_KEYS}
    ageing = [{"bucket": key, "label": AGE_LABELS[key], "count": sum(row[f"age:{key}"] for row in rows)}
              for key in AGE_BUCKETS]
    return {"total": total, "by_priority": _by_priority(rows), "by_source": _by_source(rows), "ageing": ageing}


def _by_priority(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        entry = merged.setdefault(row["priority_label"], {
            "priority": row["priority_label"], "code": row["priority_code"],
            "open": 0, "by_source": dict.fromkeys(FW_SOURCES, 0)})
        entry["open"] += row["open"]
        entry["by_source"][row["source"]] += row["open"]
        if row["priority_code"] is not None and (entry["code"] is None or row["priority_code"] > entry["code"]):
            entry["code"] = row["priority_code"]
    return sorted(merged.values(), key=lambda e: (-(e["code"] if e["code"] is not None else -1), e["priority"] or ""))


def _by_source(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for source in FW_SOURCES:
        mine = [row for row in rows if row["source"] == source]
        result.append({"source": source, **{key: sum(row[key] for row in mine) for key in TILE_KEYS}})
    return result


def incident_flow(filters: CockpitFilters, now: datetime) -> list[dict[str, Any]]:
    """Return created and resolved counts per ISO week (Monday 00:00 UTC) over the last 12 weeks."""
    first, last = weeks_window(now)
    return weekly_counts(incident_scope(filters), first, last,
                         {"created": Ticket.created_at, "resolved": Ticket.resolved_at})


def incident_resolution(filters: CockpitFilters, now: datetime) -> dict[str, Any]:
    """Return created and resolved counts in the period and the median and 90th percentile time to resolve."""
    first_day, last_day = period_window(filters, now)
    start, end = day_bounds(first_day, last_day)
    scope = incident_scope(filters)
    created = (select(func.count()).where(*scope, Ticket.created_at >= start, Ticket.created_at < end)
               .correlate(None).scalar_subquery())
    stmt = (select(created.label("created"), func.count().label("resolved"),
                   p50_p90(Ticket.resolved_at - Ticket.created_at)
                   .filter(Ticket.resolved_at >= Ticket.created_at).label("quantiles"))
            .where(*scope, Ticket.resolved_at >= start, Ticket.resolved_at < end))
    row = db.session.execute(stmt).one()
    p50, p90 = in_units(row.quantiles, timedelta(hours=1))
    return {"first_day": first_day, "last_day": last_day, "created": row.created, "resolved": row.resolved,
            "p50_hours": p50, "p90_hours": p90}
