"""Demo mode starts the first sync of every type on start-up; empty pages offer admins a Sync action."""

from __future__ import annotations

from rq import Queue
from sqlalchemy import select

from tickettracker.core.vocabulary import DATA_TYPES, SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import SyncRun
from tickettracker.sync.queues import QUEUE_NAMES


def test_demo_start_queues_one_sync_of_every_type_once(app, app_config):
    from tickettracker import create_app
    from tickettracker.runtime.bootstrap import DEMO_STARTER, prepare_instance

    demo = create_app({**app_config, "DEMO_MODE": "true"})
    with demo.app_context():
        lines = prepare_instance(demo) + prepare_instance(demo)
        rows = list(db.session.scalars(select(SyncRun)))
        queued = sum(Queue(name, connection=redis_client()).count for name in QUEUE_NAMES)
        db.session.remove()
    assert sorted(r.type for r in rows) == sorted(DATA_TYPES), "one run per data type, even after a second start"
    assert all(r.status == int(SyncStatus.QUEUED) and r.requested_by == DEMO_STARTER for r in rows)
    assert queued == len(DATA_TYPES)
    assert any("sync of Incidents and JIRA is queued" in line for line in lines)


def test_empty_pages_offer_admins_a_sync_action_and_viewers_an_explanation(client, viewer_client):
    dashboard = client.get("/").get_data(as_text=True)
    assert dashboard.count("Sync Incidents now") == 1 and dashboard.count("Sync JIRA now") == 1
    tracker = client.get("/development").get_data(as_text=True)
    assert "Sync JIRA now" in tracker and 'hx-post="/api/jira/sync"' in tracker
    for path in ("/", "/development"):
        html = viewer_client.get(path).get_data(as_text=True)
        assert "sync-btn" not in html and "an admin can start one" in html


def test_an_empty_page_says_a_sync_is_on_its_way_instead_of_offering_another(app, client):
    from tickettracker.sync import runs

    with app.app_context():
        runs.create_run("JIRA", "scheduled", "demo start-up")
        db.session.remove()
    html = client.get("/development").get_data(as_text=True)
    assert "The JIRA sync is queued" in html and "Sync JIRA now" not in html
