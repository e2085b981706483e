"""Jira issues are cached by their numeric id: a move to another project changes the key, never the row."""

from __future__ import annotations

from typing import Any

from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket

from . import simulator_fixtures as fx
from .simulator_fixtures import assert_matches_truth, cache_rows, jira_row, make_settings, sync

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def move_issue(vendor: Any, key: str, project_key: str) -> str:
    """Move an issue to another project as Jira does: a new key, the same id, updated now."""
    return vendor.move_issue(key, project_key)


def test_a_moved_issue_keeps_one_row_that_shows_its_new_key_everywhere(ctx, sim, client):
    settings = make_settings(ctx, jira_census_every=1000)  # no census: the incremental read alone must do it
    sync(settings, "jira")
    before = jira_row("OPS-3")
    new_key = move_issue(sim.vendor("jira"), "OPS-3", "ENG")
    sync(settings, "jira")
    rows = [row for row in cache_rows("jira").values() if row["raw"]["id"] == before["raw"]["id"]]
    assert len(rows) == 1
    moved = rows[0]
    assert moved["external_id"] == before["external_id"] == before["raw"]["id"]
    assert (moved["external_key"], moved["project"]) == (new_key, "ENG")
    assert moved["url"].endswith(f"/browse/{new_key}") and not moved["is_deleted"]
    assert "OPS-3" not in {row["external_key"] for row in cache_rows("jira").values()}
    assert_matches_truth(sim, "jira")

    ticket_id = db.session.scalar(db.select(Ticket.id).where(Ticket.external_key == new_key))
    tracker = client.get(f"/development?q={new_key}").get_data(as_text=True)
    assert f'/tickets/{ticket_id}">{new_key}</a>' in tracker and "OPS-3" not in tracker
    assert f"› {new_key}" in client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    items = client.get(f"/api/tickets?view=development&q={new_key}").get_json()["items"]
    assert [(item["key"], item["externalId"], item["project"]) for item in items] == \
        [(new_key, before["external_id"], "ENG")]
    assert client.get("/api/tickets?view=development&q=OPS-3").get_json()["items"] == []
    download = client.get(f"/development/export.csv?q={new_key}").get_data(as_text=True).splitlines()
    assert len(download) == 2 and download[1].startswith(f"jira,{new_key},")


def test_freshworks_tickets_are_named_by_their_id(ctx, sim, client):
    sync(make_settings(ctx), "freshdesk")
    item = client.get("/api/tickets?view=incidents&limit=1").get_json()["items"][0]
    assert item["key"] == item["externalId"]
