"""SLA state of one item ("overdue by 23 d", "first response due in 2 h", "resolved in 3 d 4 h"), judged by the very
clauses the cockpit's tiles count with (store.queries), evaluated by PostgreSQL for that item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket
from tickettracker.store.queries import at_risk_clause, fr_overdue_clause, open_clause, overdue_clause


@dataclass(frozen=True)
class SlaState:
    """What one SLA date of an item means now: the text shown beside it and its tone (bad, warn, ok or none)."""

    text: str
    tone: str = ""


def span(delta: timedelta) -> str:
    """Format a length of time as people read it: '23 d', '3 d 4 h', '2 h', '2 h 5 min', '45 min'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 10:
        return f"{days} d"
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if hours < 3 and mins else f"{hours} h"
    return f"{mins} min" if mins else "under a minute"


def ticket_sla(ticket: Ticket, now: datetime) -> dict[str, SlaState]:
    """Return the SLA state of an item's dates, keyed by column (due_by, fr_due_by, resolved_at)."""
    flags = db.session.execute(select(
        open_clause().label("open"), overdue_clause(now).label("overdue"), at_risk_clause(now).label("at_risk"),
        fr_overdue_clause(now).label("fr_overdue")).where(Ticket.id == ticket.id)).one()
    states: dict[str, SlaState] = {}
    if flags.overdue:
        states["due_by"] = SlaState(f"overdue by {span(now - ticket.due_by)}", "bad")
    elif flags.open and ticket.due_by is not None:
        states["due_by"] = SlaState(f"due in {span(ticket.due_by - now)}", "warn" if flags.at_risk else "")
    if flags.fr_overdue:
        states["fr_due_by"] = SlaState(f"first response overdue by {span(now - ticket.fr_due_by)}", "bad")
    elif flags.open and ticket.fr_due_by is not None and ticket.first_responded_at is None:
        states["fr_due_by"] = SlaState(f"first response due in {span(ticket.fr_due_by - now)}")
    elif ticket.fr_due_by is not None and ticket.first_responded_at is not None and ticket.created_at is not None:
        late = ticket.first_responded_at > ticket.fr_due_by
        states["fr_due_by"] = SlaState(f"first response in {span(ticket.first_responded_at - ticket.created_at)}"
                                       + (" (late)" if late else ""), "bad" if late else "ok")
    if not flags.open and ticket.resolved_at is not None and ticket.created_at is not None:
        late = ticket.due_by is not None and ticket.resolved_at > ticket.due_by
        states["resolved_at"] = SlaState(f"resolved in {span(ticket.resolved_at - ticket.created_at)}"
                                         + (" (after its due time)" if late else ""), "warn" if late else "ok")
    return states
