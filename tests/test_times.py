"""The one time convention: UTC ISO in data, <time> elements with the absolute UTC time in pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tickettracker.core.times import iso_utc, utc_text
from tickettracker.web.times import time_tag

IST = timezone(timedelta(hours=5, minutes=30))


def test_iso_utc_normalises_every_zone_and_text():
    moment = datetime(2026, 12, 7, 1, 43, 55, tzinfo=IST)
    assert iso_utc(moment) == "2026-12-06T20:13:55+00:00"
    assert iso_utc("2026-12-07T01:43:55+05:30") == "2026-12-06T20:13:55+00:00"
    assert iso_utc(datetime(2026, 12, 6, 20, 13, 55)) == "2026-12-06T20:13:55+00:00"  # naive means UTC
    assert iso_utc(None) is None
    assert utc_text(moment) == "2026-12-06 20:13:55 UTC"
    assert utc_text(moment, seconds=False) == "2026-12-06 20:13 UTC"
    assert utc_text(None) == "—"


def test_time_tag_carries_utc_iso_and_the_absolute_utc_title():
    html = str(time_tag(datetime(2026, 12, 7, 1, 43, 55, tzinfo=IST)))
    assert html == ('<time datetime="2026-12-06T20:13:55+00:00" title="2026-12-06 20:13:55 UTC" data-time="auto">'
                    "2026-12-06 20:13 UTC</time>")
    assert 'data-time="clock">2026-12-06 20:13:55 UTC<' in str(time_tag("2026-12-06T20:13:55+00:00", "clock"))
    assert str(time_tag(None)) == "—"
    with pytest.raises(ValueError):
        time_tag("2026-12-06T20:13:55+00:00", "fancy")


def test_json_and_pages_use_the_convention(client, app):
    from tickettracker.store.extensions import db
    from tickettracker.store.models import Ticket

    with app.app_context():
        db.session.execute(db.text("SET TIME ZONE 'Asia/Kolkata'"))
        db.session.add(Ticket(source="jira", external_id="T-1", kind="jira_issue", subject="x",
                              created_at=datetime(2026, 12, 6, 20, 13, 55, tzinfo=timezone.utc)))
        db.session.commit()
        ticket_id = db.session.scalar(db.select(Ticket.id))
    item = client.get("/api/tickets?view=development").get_json()["items"][0]
    assert item["createdAt"] == "2026-12-06T20:13:55+00:00"
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert '<time datetime="2026-12-06T20:13:55+00:00" title="2026-12-06 20:13:55 UTC" data-time="auto">' in page
