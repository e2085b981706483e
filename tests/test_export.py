"""CSV downloads of the tracker lists and the sync history: current filters and order, UTC ISO times, formula-safe
cells, streamed a page at a time."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from tests.factories import add_tickets
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun


def _download(client, url: str) -> tuple[list[dict[str, str]], int]:
    response = client.get(url, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    chunks = [chunk.decode() if isinstance(chunk, bytes) else chunk for chunk in response.response]
    response.close()
    return list(csv.DictReader(io.StringIO("".join(chunks)))), len(chunks)


def test_tracker_csv_has_every_matching_item_in_the_lists_order(app, viewer_client):
    with app.app_context():
        add_tickets(1150, priority_label="Low")
        add_tickets(5, start=5000, subject="=HYPERLINK(\"http://evil\")", priority_label="Urgent")
        db.session.remove()
    rows, chunks = _download(viewer_client, "/incidents/export.csv?sort=created&dir=asc")
    assert len(rows) == 1155 and chunks > 10, "streamed in batches, not one block"
    listed = viewer_client.get("/api/tickets?view=incidents&sort=created&dir=asc&limit=500").get_json()["items"]
    assert [r["key"] for r in rows[:500]] == [item["externalId"] for item in listed]
    urgent, _ = _download(viewer_client, "/incidents/export.csv?priority=Urgent")
    assert len(urgent) == 5 and all(r["subject"].startswith("'=HYPERLINK") for r in urgent)
    created = datetime.fromisoformat(urgent[0]["created_at"])
    assert created.utcoffset() == timedelta(0) and urgent[0]["created_at"].endswith("+00:00")
    assert viewer_client.get("/incidents/export.csv?created_from=yesterday").status_code == 400


def test_the_page_links_the_download_with_its_filters(app, client):
    with app.app_context():
        add_tickets(3)
        db.session.remove()
    page = client.get("/incidents?q=Ticket&sort=priority").get_data(as_text=True)
    assert 'href="/incidents/export.csv?q=Ticket&amp;sort=priority"' in page
    history = client.get("/sync?type=JIRA").get_data(as_text=True)
    assert "export.csv" not in history, "no runs, no download link"


def test_history_csv_keeps_the_filters(app, client):
    now = datetime.now(timezone.utc)
    with app.app_context():
        for n in range(230):
            db.session.add(SyncRun(id=f"run{n:04d}", type="JIRA" if n % 2 else "Incidents",
                                   status=int(SyncStatus.COMPLETED), trigger="scheduled", fetched=n,
                                   queued_at=now - timedelta(minutes=n), finished_at=now - timedelta(minutes=n - 1)))
        db.session.commit()
        db.session.remove()
    rows, _ = _download(client, "/sync/export.csv?type=JIRA")
    assert len(rows) == 115 and {r["type"] for r in rows} == {"JIRA"}
    assert rows[0]["run_id"] == "run0001" and rows[0]["status"] == SyncStatus.COMPLETED.label
    assert rows[0]["finished_at"].endswith("+00:00")
    assert 'href="/sync/export.csv?type=JIRA"' in client.get("/sync?type=JIRA").get_data(as_text=True)
