"""Helpers that put hand-built items straight into the cache for read-side tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.live import TEST_PASSWORD, ensure_user
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket, User
from tickettracker.sync import runs
from tickettracker.web.auth.tokens import create_token_for

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


def seed_route_values(app: Any, token_name: str, users: tuple[tuple[str, str], ...] = (("viewer", "viewer"),)
                      ) -> dict[str, str]:
    """Create one of everything a route's path parameter can name; return the values to put in paths.

    Creates the users (name, role) unless they exist (the viewer at least: it owns the token), ticket number 1, a
    JIRA run started by admin and a token of the viewer's named token_name.
    """
    for username, role in users:
        ensure_user(app, username, TEST_PASSWORD, role)
    with app.app_context():
        ticket = make_ticket(1)
        db.session.add(ticket)
        db.session.commit()
        run = runs.create_run("JIRA", "manual", "admin").run
        viewer = db.session.scalar(db.select(User).where(User.username == "viewer"))
        token, _ = create_token_for("viewer", token_name)
        values = {"ticket_id": str(ticket.id), "job_id": run.id, "run_id": run.id, "sync_type": "JIRA",
                  "filename": "app.css", "user_id": str(viewer.id), "token_id": str(token.id)}
        db.session.remove()
    return values
