"""Trends rebuilt from the items' own dates: created, resolved and the open backlog per UTC day, exact against a
hand count, merged with snapshots (which win on their days) and marked as rebuilt."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from tests.factories import make_ticket
from tickettracker.cockpit.dashboard import dashboard_data
from tickettracker.cockpit.incidents import incident_backlog
from tickettracker.cockpit.present import trend_chart
from tickettracker.cockpit.scope import CockpitFilters
from tickettracker.cockpit.snapshots import take_snapshot
from tickettracker.cockpit.trends import daily_history
from tickettracker.store.extensions import db

UTC = timezone.utc
NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
DAYS = 30


def _items(rng: random.Random) -> list[dict]:
    items = []
    for n in range(300):
        created = NOW - timedelta(hours=rng.randint(1, 24 * 60))
        status = rng.choice(["open", "pending", "resolved", "closed"])
        resolved = created + timedelta(hours=rng.randint(0, 24 * 20)) if status in ("resolved", "closed") else None
        if resolved is not None and resolved > NOW:
            resolved = NOW - timedelta(minutes=5)
        if n % 37 == 0:
            resolved = None  # closed without a resolution time: cannot be placed on any day
        items.append({"status_category": status, "created_at": created, "resolved_at": resolved,
                      "group_name": rng.choice(["Desk", "Network"]),
                      "source": rng.choice(["freshdesk", "freshservice"]),
                      "is_deleted": n % 41 == 0})
    return items


def _truth(items: list[dict], end: datetime) -> int:
    """The open backlog at a moment, counted item by item."""
    count = 0
    for item in items:
        if item["is_deleted"] or item["created_at"] >= end:
            continue
        if item["status_category"] in ("open", "pending"):
            count += 1
        elif item["resolved_at"] is not None and max(item["resolved_at"], item["created_at"]) >= end:
            count += 1
    return count


def test_rebuilt_backlog_created_and_resolved_are_exact_per_utc_day(app):
    items = _items(random.Random(5))
    with app.app_context():
        db.session.add_all(make_ticket(n, kind="incident", **item) for n, item in enumerate(items))
        db.session.commit()
        rows = daily_history("incidents", CockpitFilters(), NOW, DAYS)
        network = daily_history("incidents", CockpitFilters(group="Network"), NOW, DAYS)
        current = incident_backlog(CockpitFilters(), NOW)["total"]["open"]
    live = [i for i in items if not i["is_deleted"]]
    assert len(rows) == DAYS and rows[-1]["day"] == NOW.date()
    for row in rows:
        start = datetime.combine(row["day"], datetime.min.time(), UTC)
        end = start + timedelta(days=1)
        assert row["open"] == _truth(live, end), row
        assert row["created"] == sum(start <= i["created_at"] < end for i in live), row
        assert row["resolved"] == sum(i["resolved_at"] is not None and start <= i["resolved_at"] < end
                                      for i in live), row
    assert rows[-1]["open"] == current, "today's rebuilt backlog is the backlog tile"
    assert network[-1]["open"] == _truth([i for i in live if i["group_name"] == "Network"], NOW + timedelta(days=1))


def test_snapshots_win_on_their_days_and_the_rest_is_marked_rebuilt(app):
    with app.app_context():
        db.session.add_all(make_ticket(n, kind="incident", status_category="open",
                                       created_at=NOW - timedelta(days=n)) for n in range(1, 11))
        db.session.commit()
        take_snapshot("daily", now=NOW - timedelta(days=2))
        board = dashboard_data(CockpitFilters(), NOW)
        grouped = dashboard_data(CockpitFilters(group="Group 1"), NOW)
    chart = trend_chart("t", "Trend", board["incidents"], {"open": ("Open", "--c"), "overdue": ("Overdue", "--c"),
                                                            "created": ("Created / day", "--c")})
    backlog, overdue, created = chart["series"]
    snap_index = chart["labels"].index(f"{NOW - timedelta(days=2):%d %b}")
    assert backlog["values"][snap_index] == 10, "the snapshot's value (the dates alone give 9 for that day)"
    assert backlog["values"][snap_index - 1] == 8
    assert backlog["reconstructed"][snap_index] is False and backlog["reconstructed"].count(False) == 1
    assert overdue["values"][snap_index] is not None and overdue["values"].count(None) == DAYS - 1
    assert created["reconstructed"] == [True] * DAYS and created["axis"] == "right"
    assert sum(created["values"]) == 10 and backlog["values"][-1] == 10
    assert "rebuilt from the items' own dates" in chart["note"] and "Dashed" in chart["note"]
    scoped = trend_chart("t", "Trend", grouped["incidents"], {"open": ("Open", "--c"), "overdue": ("Overdue", "--c")},
                         scope_note="All groups for Overdue.")
    assert all(scoped["series"][0]["reconstructed"]), "a group filter cannot use all-group snapshots"
    assert scoped["note"].startswith("All groups")
