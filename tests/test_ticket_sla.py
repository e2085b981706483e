"""Ticket pages show SLA state by the cockpit tiles' own rules: an item is "overdue by" exactly when the Overdue tile's
list holds it, "due in" with a warning exactly when At risk holds it, "first response overdue" as its tile."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone

from tests.factories import make_ticket
from tickettracker.cockpit.sla import span
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket


def test_span_reads_like_the_examples():
    assert span(timedelta(days=23, hours=5)) == "23 d"
    assert span(timedelta(days=3, hours=4, minutes=59)) == "3 d 4 h"
    assert span(timedelta(days=2)) == "2 d"
    assert span(timedelta(hours=2)) == "2 h"
    assert span(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert span(timedelta(hours=7, minutes=5)) == "7 h"
    assert span(timedelta(minutes=45)) == "45 min"
    assert span(timedelta(seconds=20)) == "under a minute"


def _seed(rng: random.Random, now: datetime) -> None:
    for n in range(60):
        status = rng.choice(["open", "pending", "resolved"])
        created = now - timedelta(hours=rng.randint(5, 2000))
        responded = created + timedelta(hours=rng.randint(1, 30)) if rng.random() < 0.4 else None
        resolved = now - timedelta(hours=rng.randint(0, 4)) if status == "resolved" else None
        db.session.add(make_ticket(n, status_category=status, created_at=created,
                                   due_by=now + timedelta(hours=rng.choice([-600, -30, 3, 20, 60])),
                                   fr_due_by=now + timedelta(hours=rng.randint(-50, 20)),
                                   first_responded_at=responded,
                                   resolved_at=resolved))
    db.session.commit()


def _listed(client, flag: str) -> set[str]:
    html = client.get(f"/incidents?{flag}=1&limit=500").get_data(as_text=True)
    return set(re.findall(r'href="/tickets/(\d+)"', html))


def test_ticket_pages_use_the_tiles_rules(app, client):
    now = datetime.now(timezone.utc)
    with app.app_context():
        _seed(random.Random(3), now)
        ids = [str(i) for i in db.session.scalars(db.select(Ticket.id))]
        db.session.remove()
    lists = {flag: _listed(client, flag) for flag in ("overdue", "at_risk", "fr_overdue")}
    assert all(lists.values()), lists
    for ticket_id in ids:
        page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
        due = re.search(r'class="sla( sla-(\w+))?" data-sla="due_by">([^<]+)<', page)
        first = re.search(r'data-sla="fr_due_by">([^<]+)<', page)
        assert (due is not None and due.group(3).startswith("overdue by ")) == (ticket_id in lists["overdue"])
        assert (due is not None and due.group(2) == "warn" and due.group(3).startswith("due in ")) \
            == (ticket_id in lists["at_risk"])
        assert (first is not None and first.group(1).startswith("first response overdue by ")) \
            == (ticket_id in lists["fr_overdue"])
        resolved = re.search(r'data-sla="resolved_at">resolved in \d', page)
        assert (resolved is not None) == ("Resolved</dt>" in page)


def test_the_examples_of_a_ticket_page(app, client):
    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.add_all([
            make_ticket(1, due_by=now - timedelta(days=23, hours=2), fr_due_by=None),
            make_ticket(2, due_by=now + timedelta(days=5), fr_due_by=now + timedelta(hours=2, seconds=30)),
            make_ticket(3, status_category="resolved", created_at=now - timedelta(days=4),
                        resolved_at=now - timedelta(days=4) + timedelta(days=3, hours=4), due_by=now)])
        db.session.commit()
        ids = list(db.session.scalars(db.select(Ticket.id).order_by(Ticket.external_id)))
        db.session.remove()
    pages = [client.get(f"/tickets/{i}").get_data(as_text=True) for i in ids]
    assert 'class="sla sla-bad" data-sla="due_by">overdue by 23 d<' in pages[0]
    assert 'data-sla="fr_due_by">first response due in 2 h<' in pages[1]
    assert 'class="sla sla-ok" data-sla="resolved_at">resolved in 3 d 4 h<' in pages[2]
