"""Freshservice workspaces: a key that may not list them still reads every workspace it can see, and says so."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tickettracker.store.extensions import db
from tickettracker.sync import jobs, runs

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, assert_matches_truth, make_settings, sync

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def discovering(settings: Any) -> Any:
    """Settings without FRESHSERVICE_WORKSPACES, so the sync lists them."""
    return replace(settings, vendors=replace(settings.vendors, freshservice_workspaces=()))


def list_workspace_ids(vendor) -> set[str]:
    """The workspace_id of every ticket-list call."""
    calls = [parse_qs(urlsplit(path).query) for _, path, _ in vendor.requests if "/api/v2/tickets?" in path]
    return {query.get("workspace_id", ["-"])[0] for query in calls}


@pytest.mark.parametrize("status", ["403", "404"])
def test_a_refused_workspace_list_reads_every_readable_workspace_and_warns(ctx, sim, status):
    vendor = sim.vendor("freshservice")
    if status == "403":
        vendor.workspaces_refused = True  # an agent's key without admin rights
    else:
        vendor.routes = [r for r in vendor.routes if r.handler != "list_workspaces"]
    recorder = Recorder()
    outcome = sync(discovering(make_settings(ctx)), "freshservice", recorder)
    assert outcome.status == "completed"
    assert list_workspace_ids(vendor) == {"0"}
    assert_matches_truth(sim, "freshservice")  # tickets of every workspace, not only the primary one
    warnings = [m for level, m in recorder.logs if level == "warning"]
    assert len(warnings) == 1 and f"HTTP {status}" in warnings[0] and "workspace_id=0" in warnings[0]
    assert "1 warning" in outcome.message and "workspace_id=0" in outcome.message


def test_a_listed_workspace_set_is_read_workspace_by_workspace_without_a_warning(ctx, sim):
    sim.vendor("freshservice").workspaces_refused = False  # an admin's key may list the workspaces
    recorder = Recorder()
    outcome = sync(discovering(make_settings(ctx)), "freshservice", recorder)
    assert list_workspace_ids(sim.vendor("freshservice")) == {"2", "3", "4"}
    assert "warning" not in outcome.message and not [m for level, m in recorder.logs if level == "warning"]


def test_the_syncs_page_and_the_run_show_the_warning(ctx, sim, client, monkeypatch):
    sim.vendor("freshservice").inject("403", count=2, path_contains="/api/v2/workspaces")
    settings = discovering(make_settings(ctx))
    monkeypatch.setitem(ctx.extensions, "tt_settings", replace(settings, vendors=replace(
        settings.vendors, freshdesk_api_key=None)))
    run = runs.create_run("Incidents", "manual", "admin").run
    with jobs.app_session(ctx):  # as the worker runs a job
        assert "1 warning" in jobs.run_sync_job(run.id)
    db.session.expire_all()  # the page requests share this test's session, which still holds the queued run
    history = client.get("/sync").get_data(as_text=True)
    assert "1 warning: Freshservice did not list the workspaces (HTTP 403)" in history
    detail = client.get(f"/sync/runs/{run.id}").get_data(as_text=True)
    assert 'class="log-warning"' in detail and "workspace_id=0" in detail


def test_a_round_resumed_with_another_page_size_reads_every_ticket(ctx, sim):
    # a round interrupted after its first page, resumed after SYNC_PAGE_SIZE changed (a deploy, another worker)
    outcome = sync(make_settings(ctx, sync_page_size=5, audit_rate_share=0), "freshservice",
                   Recorder(cancel_after=1))
    assert outcome.status == "cancelled"
    sync(make_settings(ctx, sync_page_size=10, audit_rate_share=0), "freshservice")
    assert_matches_truth(sim, "freshservice")
