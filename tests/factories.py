"""Helpers that put hand-built items straight into the cache for read-side tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def make_ticket(n: int, **overrides: Any) -> Ticket:
    """Return an unsaved Ticket with plausible values, numbered n."""
    values: dict[str, Any] = {
        "source": "freshdesk", "external_id": str(n), "kind": "incident", "subject": f"Ticket number {n}",
        "status_code": "2", "status_label": "Open", "status_category": "open", "priority_code": 1 + n % 4,
        "priority_label": ["Low", "Medium", "High", "Urgent"][n % 4], "group_name": f"Group {n % 3}",
        "created_at": BASE_TIME - timedelta(days=n), "updated_at": BASE_TIME - timedelta(hours=n),
        "due_by": BASE_TIME + timedelta(hours=n), "tags": [], "raw": {"id": n}, "custom_fields": {},
    }
    values.update(overrides)
    return Ticket(**values)


def add_tickets(count: int, start: int = 1, **overrides: Any) -> list[Ticket]:
    """Insert count tickets and commit."""
    tickets = [make_ticket(n, **overrides) for n in range(start, start + count)]
    db.session.add_all(tickets)
    db.session.commit()
    return tickets
