"""What changed, as the API, the run page, the toast and the tracker filter show it."""

from __future__ import annotations

from tests.test_changes import SCOPE, bump, rec
from tickettracker.core.changes import NO_CHANGES
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRunChange
from tickettracker.store.serialize import run_json
from tickettracker.sync import runs
from tickettracker.sync.changes import change_counts
from tickettracker.sync.ingest import write_page
from tickettracker.web.views.stream import render_event


def _completed_run(app) -> tuple[str, dict[str, int]]:
    """An Incidents run that made ticket 1 urgent, reopened ticket 2 and created ticket 3 (subject with markup)."""
    with app.app_context():
        resolved = rec(2, status_category="resolved")
        write_page("freshdesk", [rec(1), resolved, rec(4)], None)
        run_id = runs.create_run("Incidents", "manual", "alice").run.id
        runs.mark_running(run_id)
        write_page("freshdesk", [bump(rec(1), priority_code=4), bump(resolved, status_category="open"),
                                 rec(3, subject="<b>new</b> one")], None, run_id=run_id, changes=SCOPE)
        counts = change_counts(run_id)
        runs.finish(run_id, SyncStatus.COMPLETED, "Sync completed", counts={"fetched": 3}, changes=counts)
    return run_id, counts


def test_the_api_returns_counts_headline_and_items_per_class(app, client):
    run_id, counts = _completed_run(app)
    body = client.get(f"/api/sync/jobs/{run_id}/changes").get_json()
    assert body["headline"] == "1 new urgent · 1 reopened"
    assert body["counts"] == counts and counts["new"] == 1 and counts["deleted"] == 0
    by_class = {c["change"]: c for c in body["classes"]}
    assert [i["key"] for i in by_class["new_urgent"]["items"]] == ["1"]
    assert [i["key"] for i in by_class["reopened"]["items"]] == ["2"]
    assert client.get("/api/sync/jobs/nope/changes").status_code == 404
    assert client.get(f"/api/sync/jobs/{run_id}").get_json()["changesHeadline"] == "1 new urgent · 1 reopened"


def test_the_run_page_lists_each_class_with_links_to_the_items(app, client):
    run_id, _ = _completed_run(app)
    html = client.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert 'id="change-new_urgent"' in html and 'id="change-reassigned"' in html
    with app.app_context():
        ids = _ids(run_id)
    assert f'href="/tickets/{ids["new_urgent"][0]}"' in html
    assert "&lt;b&gt;new&lt;/b&gt; one" in html and "<b>new</b>" not in html


def _ids(run_id: str) -> dict[str, list[int]]:
    return {row.change: list(row.ticket_ids) for row in db.session.query(SyncRunChange).filter_by(run_id=run_id)}


def test_the_completion_toast_names_the_headline(app):
    run_id, _ = _completed_run(app)
    with app.app_context(), app.test_request_context():
        html = render_event(run_json(runs.get_run(run_id)), admin=False)
        assert '<span class="toast-headline">1 new urgent · 1 reopened</span>' in html
        quiet = runs.create_run("JIRA", "manual", "bob").run.id
        runs.mark_running(quiet)
        runs.finish(quiet, SyncStatus.COMPLETED, "Sync completed", changes={"new": 4})
        assert f'<span class="toast-headline">{NO_CHANGES}</span>' in render_event(run_json(runs.get_run(quiet)),
                                                                                   admin=False)


def test_the_tracker_filter_shows_only_what_the_last_sync_changed(app, client):
    _completed_run(app)
    html = client.get("/incidents?changed=1").get_data(as_text=True)
    assert "Ticket 1" in html and "Ticket 2" in html and "Ticket 4" not in html
    only = client.get("/incidents?changed=reopened").get_data(as_text=True)
    assert "Ticket 2" in only and "Ticket 1" not in only
    assert client.get("/incidents?changed=bogus").status_code == 400
    assert "Ticket 4" in client.get("/incidents").get_data(as_text=True)
