"""Incidents waiting on development: open helpdesk tickets linked to a Jira issue that is not done."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select

from tickettracker.cockpit.scope import AGE_LABELS, CockpitFilters, count_if, incident_scope
from tickettracker.store.extensions import db
from tickettracker.store.links import waiting_clause
from tickettracker.store.models import Ticket
from tickettracker.store.queries import AGE_BUCKETS, age_clause

DAY = timedelta(days=1)


def waiting_on_development(filters: CockpitFilters, now: datetime) -> dict[str, Any]:
    """Return how many incidents wait on development, the oldest one's age (days), how many are overdue, by age."""
    ages = [count_if(age_clause(key, now)).label(f"age:{key}") for key in AGE_BUCKETS]
    stmt = (select(func.count().label("count"), func.max(literal(now) - Ticket.created_at).label("oldest"),
                   count_if(Ticket.due_by < now).label("overdue"), *ages)
            .where(*incident_scope(filters), waiting_clause()))
    row = db.session.execute(stmt).one()._asdict()
    return {"count": row["count"], "overdue": row["overdue"],
            "oldest_days": None if row["oldest"] is None else round(row["oldest"] / DAY, 1),
            "ageing": [{"bucket": key, "label": AGE_LABELS[key], "count": row[f"age:{key}"]} for key in AGE_BUCKETS]}
