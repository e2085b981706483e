"""How fresh one item is thanks to the at-risk refresh: whether the refresh covers it now (an at-risk ticket within
the horizon and the item limit, or a Jira issue linked to one) and when the last refresh run completed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tickettracker.core.config import Settings
from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, Ticket
from tickettracker.sync.atrisk_set import helpdesk_targets, horizon, linked_jira


@dataclass(frozen=True)
class AtRiskFreshness:
    """The at-risk refresh's word on one item: the last completed refresh (None: none has completed yet)."""

    refreshed_at: datetime | None
    run_id: str | None


def at_risk_freshness(ticket: Ticket, settings: Settings, now: datetime) -> AtRiskFreshness | None:
    """Return when the at-risk refresh last ran for an item it covers, or None when it does not cover the item."""
    if ticket.is_deleted or ticket.is_spam or ticket.hidden_reason is not None:
        return None
    targets = [row_id for row_id, *_ in helpdesk_targets(now, horizon(settings), settings.sla_refresh_max_items)]
    if ticket.source == "jira":
        covered = ticket.external_id in linked_jira(targets, settings.sla_refresh_max_items)
    else:
        covered = ticket.id in targets
    if not covered:
        return None
    run = db.session.scalars(select(SyncRun).where(SyncRun.type == AT_RISK,
                                                   SyncRun.status == int(SyncStatus.COMPLETED))
                             .order_by(SyncRun.finished_at.desc()).limit(1)).first()
    db.session.commit()
    return AtRiskFreshness(run.finished_at if run else None, run.id if run else None)
