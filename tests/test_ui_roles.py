"""Admin controls are rendered by role: a viewer's HTML never contains Sync, Cancel, schedule forms or user admin,
and the server still refuses those requests from a viewer."""

from __future__ import annotations

import pytest

from tests.factories import add_tickets
from tickettracker.store.extensions import db
from tickettracker.sync import runs

ADMIN_MARKERS = ("sync-btn", "sync-cancel", "/api/governance/sync", "/api/jira/sync", "/cancel",
                 'name="interval_minutes"', "/sync/schedules/", "/admin/users", "Save JIRA schedule")


def _pages(app) -> list[str]:
    with app.app_context():
        ticket = add_tickets(1)[0]
        run = runs.create_run("JIRA", "manual", "admin").run
        runs.mark_running(run.id)
        runs.append_log(run.id, "info", "page 1")
        ids = ticket.id, run.id
        db.session.remove()
    return ["/", "/incidents", "/development", "/sync", f"/sync/runs/{ids[1]}", f"/tickets/{ids[0]}", "/account",
            "/?source=jira", "/development?q=nothing-matches"]


def test_a_viewer_gets_no_admin_control_in_any_page(app, client, viewer_client):
    for path in _pages(app):
        viewer = viewer_client.get(path)
        assert viewer.status_code == 200, path
        html = viewer.get_data(as_text=True)
        found = [marker for marker in ADMIN_MARKERS if marker in html]
        assert found == [], f"{path} gives a viewer admin controls: {found}"
    admin = client.get("/sync").get_data(as_text=True)
    assert all(marker in admin for marker in ("sync-btn", "sync-cancel", 'name="interval_minutes"', "/admin/users"))


@pytest.mark.parametrize(("method", "path"), [("post", "/api/governance/sync"), ("post", "/api/jira/sync"),
                                              ("post", "/sync/schedules/JIRA"), ("get", "/admin/users"),
                                              ("post", "/api/sync/jobs/x/cancel")])
def test_the_server_still_refuses_a_viewer(viewer_client, method, path):
    assert getattr(viewer_client, method)(path).status_code == 403
