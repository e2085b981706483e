"""Which items the at-risk refresh covers: open helpdesk tickets due (or first-response due) within the horizon on
either side of now, the most urgent first, and the Jira issues linked to them (the refresh itself: atrisk.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, or_, select

from tickettracker.core.config import Settings
from tickettracker.core.vocabulary import AT_RISK, HELPDESKS
from tickettracker.store.extensions import db
from tickettracker.store.models import JiraKeyAlias, SyncSchedule, Ticket, TicketLink

OPEN = ("open", "pending")


def horizon(settings: Settings) -> timedelta:
    """The horizon the Schedules page set, else SLA_HORIZON_MINUTES."""
    minutes = db.session.scalar(select(SyncSchedule.horizon_minutes).where(SyncSchedule.type == AT_RISK))
    db.session.commit()
    return timedelta(minutes=minutes or settings.sla_horizon_minutes)


def at_risk_clause(now: datetime, window: timedelta) -> Any:
    """Open live helpdesk tickets due, or first-response due and unanswered, within the window around now."""
    low, high = now - window, now + window
    due = and_(Ticket.due_by >= low, Ticket.due_by <= high)
    first = and_(Ticket.fr_due_by >= low, Ticket.fr_due_by <= high, Ticket.first_responded_at.is_(None))
    return and_(Ticket.source.in_(HELPDESKS), ~Ticket.is_deleted, ~Ticket.is_spam,
                Ticket.status_category.in_(OPEN), or_(due, first))


def helpdesk_targets(now: datetime, window: timedelta, limit: int) -> list[tuple[int, str, str]]:
    """(row id, source, external id) of the at-risk tickets, the most urgent first."""
    urgency = func.least(func.coalesce(Ticket.due_by, literal(now + window)),
                         func.coalesce(Ticket.fr_due_by, literal(now + window)))
    stmt = (select(Ticket.id, Ticket.source, Ticket.external_id).where(at_risk_clause(now, window))
            .order_by(urgency, Ticket.id).limit(limit))
    rows = [tuple(row) for row in db.session.execute(stmt)]
    db.session.commit()
    return rows


def linked_jira(ticket_ids: Sequence[int], limit: int) -> dict[str, str]:
    """{Jira issue id: cached key} of the live Jira issues linked to the given tickets (either direction)."""
    if not ticket_ids:
        return {}
    helpdesk = select(Ticket.source, Ticket.external_id).where(Ticket.id.in_(ticket_ids)).subquery()
    mentioned = select(TicketLink.target_ref).where(TicketLink.ticket_id.in_(ticket_ids),
                                                    TicketLink.target_source == "jira")
    pointing = (select(TicketLink.ticket_id).join(helpdesk, and_(TicketLink.target_source == helpdesk.c.source,
                                                                 TicketLink.target_ref == helpdesk.c.external_id)))
    moved = (select(Ticket.id).join(JiraKeyAlias, and_(JiraKeyAlias.external_id == Ticket.external_id,
                                                       JiraKeyAlias.account == Ticket.account))
             .where(Ticket.source == "jira", JiraKeyAlias.old_key.in_(mentioned)))
    stmt = (select(Ticket.external_id, Ticket.external_key)
            .where(Ticket.source == "jira", ~Ticket.is_deleted,
                   or_(Ticket.external_key.in_(mentioned), Ticket.id.in_(pointing), Ticket.id.in_(moved)))
            .limit(limit))
    found = {str(ident): key for ident, key in db.session.execute(stmt) if ident}
    db.session.commit()
    return found
