"""Schedules: the form on the sync page and PUT /api/sync/schedules/<type>, validated, read by the scheduler."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import SyncSchedule
from tickettracker.sync.schedule import next_runs, reconcile, scheduler_for, wanted_schedules


def _row(app, sync_type: str) -> SyncSchedule | None:
    with app.app_context():
        row = db.session.scalars(select(SyncSchedule).where(SyncSchedule.type == sync_type)).first()
        db.session.expunge_all()
        return row


def test_form_saves_and_redirects_and_the_scheduler_reads_the_new_row(app, client):
    response = client.post("/sync/schedules/JIRA", data={"interval_minutes": "15", "enabled": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/sync?saved=JIRA#schedule-JIRA")
    row = _row(app, "JIRA")
    assert (row.interval_minutes, row.enabled) == (15, True)
    with app.app_context():
        assert [(s.sync_type, s.interval_minutes, s.enabled) for s in wanted_schedules() if s.sync_type == "JIRA"] \
            == [("JIRA", 15, True)]
        reconcile(scheduler_for(redis_client()), wanted_schedules())
        due = next_runs(redis_client())["JIRA"]
    assert timedelta(minutes=14) < due - datetime.now(timezone.utc) <= timedelta(minutes=15)
    page = client.get("/sync?saved=JIRA").get_data(as_text=True)
    assert "every 15 min" in page and "Saved" in page


def test_unchecked_box_turns_the_schedule_off(app, client):
    client.post("/sync/schedules/Incidents", data={"interval_minutes": "60"})
    assert _row(app, "Incidents").enabled is False
    assert "off (manual only)" in client.get("/sync").get_data(as_text=True)


@pytest.mark.parametrize(("value", "says"), [("4", "out of range"), ("10081", "out of range"), ("abc", "not a number"),
                                             ("", "required"), ("2.5", "not a number")])
def test_bad_interval_is_refused_with_a_clear_message(app, client, value, says):
    response = client.post("/sync/schedules/JIRA", data={"interval_minutes": value, "enabled": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and says in html and "5 to 10080" in html
    assert 'aria-invalid="true"' in html and _row(app, "JIRA") is None


def test_htmx_form_gets_its_card_back_with_the_error_or_saved(app, client):
    headers = {"HX-Request": "true"}
    bad = client.post("/sync/schedules/JIRA", data={"interval_minutes": "1"}, headers=headers)
    assert bad.status_code == 422 and bad.get_data(as_text=True).lstrip().startswith('<form id="schedule-JIRA"')
    good = client.post("/sync/schedules/JIRA", data={"interval_minutes": "30", "enabled": "on"}, headers=headers)
    assert good.status_code == 200 and "every 30 min" in good.get_data(as_text=True)
    assert 'role="status">Saved' in good.get_data(as_text=True)


def test_unknown_type_is_404(client):
    assert client.post("/sync/schedules/Nope", data={"interval_minutes": "30"}).status_code == 404
    assert client.put("/api/sync/schedules/Nope", json={"intervalMinutes": 30}).status_code == 404


def test_put_json_sets_the_schedule_and_keeps_enabled_when_omitted(app, client):
    response = client.put("/api/sync/schedules/JIRA", json={"intervalMinutes": 90, "enabled": False})
    assert response.status_code == 200 and response.get_json()["intervalMinutes"] == 90
    assert response.get_json()["enabled"] is False
    again = client.put("/api/sync/schedules/JIRA", json={"intervalMinutes": 45})
    assert again.get_json() | {"updatedAt": None} == {"type": "JIRA", "intervalMinutes": 45, "enabled": False,
                                                      "updatedAt": None, "updatedBy": "admin"}
    listed = {s["type"]: s for s in client.get("/api/sync/schedules").get_json()["items"]}
    assert listed["JIRA"]["intervalMinutes"] == 45 and set(listed) == {"Incidents", "JIRA", "At-risk"}


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"intervalMinutes": 3}, 422, "out of range"), ({"intervalMinutes": "x"}, 422, "not a number"),
    ({"intervalMinutes": 30, "enabled": "yes"}, 422, "true or false"), ({}, 422, "required"),
    ({"intervalMinutes": True}, 422, "whole number"), ([1], 400, "JSON object")])
def test_put_json_refuses_bad_values(app, client, body, status, says):
    response = client.put("/api/sync/schedules/JIRA", json=body)
    assert response.status_code == status and says in response.get_json()["error"]
    assert _row(app, "JIRA") is None
