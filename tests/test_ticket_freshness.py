"""The ticket page of an item the at-risk refresh covers says when that refresh last completed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.sync import runs
from tickettracker.sync.ingest import write_page

from .test_ingest import record


def _ticket_ids() -> dict[str, int]:
    rows = db.session.execute(text("SELECT external_id, id FROM tickets")).all()
    db.session.commit()
    return dict(rows)


def _completed_refresh() -> tuple[str, datetime]:
    run = runs.create_run(AT_RISK, "scheduled", "scheduler").run
    runs.mark_running(run.id)
    ended = runs.finish(run.id, SyncStatus.COMPLETED, "At-risk refresh: 1 tickets")
    return ended.id, ended.finished_at


def test_an_at_risk_ticket_says_when_the_at_risk_refresh_last_completed(app, client):
    now = datetime.now(timezone.utc)
    with app.app_context():
        write_page("freshdesk", [record(1, due_by=now + timedelta(hours=1), status_category="open"),
                                 record(2, due_by=now + timedelta(days=3), status_category="open"),
                                 record(3, due_by=now + timedelta(hours=1), status_category="closed")], None)
        ids = _ticket_ids()
    at_risk, later, closed = (f"/tickets/{ids[n]}" for n in ("1", "2", "3"))

    waiting = client.get(at_risk).get_data(as_text=True)
    assert "the at-risk refresh reads it again, but it has not completed a run yet" in waiting

    with app.app_context():
        old_id, _ = _completed_refresh()
        run_id, finished = _completed_refresh()
    assert run_id != old_id
    page = client.get(at_risk).get_data(as_text=True)
    line = re.search(r'<dd id="at-risk-freshness">(.*?)</dd>', page, re.S).group(1)
    assert line.strip().startswith("at-risk refreshed <time")
    assert f'datetime="{iso_utc(finished)}"' in line and 'data-time="relative"' in line
    assert f'/sync/runs/{run_id}"' in line
    for path in (later, closed):  # not due within the horizon, or no longer open: the refresh does not cover it
        assert 'id="at-risk-freshness"' not in client.get(path).get_data(as_text=True)
