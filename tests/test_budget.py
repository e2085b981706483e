"""The API budget meter and the full-resync estimate: rate-limit headers recorded per vendor and run (real HTTP
against the vendor simulator), the Syncs page's budget table, the estimate before a full resync and beside its run."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.sync import jobs, runs
from tickettracker.sync.atrisk import refresh_at_risk
from tickettracker.sync.estimate import estimate_full
from tickettracker.sync.runner import run_sync
from vendorsim.timeutil import fw_format

from . import simulator_fixtures as fx
from .simulator_fixtures import COUNTED, make_settings, only

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def synced(settings, source: str | None, sync_type: str, *, full: bool = False, estimate=None) -> str:
    """One sync of a source through the worker's reporter, as a finished run; return its id."""
    run = runs.create_run(sync_type, "manual", "admin", full=full, estimate=estimate).run
    runs.mark_running(run.id)
    outcome = run_sync(only(settings, source) if source else settings, sync_type, jobs.RunReporter(run.id),
                       full=full, run_id=run.id)
    runs.finish(run.id, SyncStatus.COMPLETED, outcome.message)
    return run.id


def metrics(run_id: str) -> dict[str, dict]:
    rows = db.session.execute(text("SELECT * FROM sync_run_metrics WHERE run_id = :r"), {"r": run_id}).mappings()
    found = {row["source"]: dict(row) for row in rows}
    db.session.commit()
    return found


def retry_lines(run_id: str) -> list[str]:
    """The run's log lines about retries (why each was made)."""
    rows = db.session.execute(text("SELECT message FROM sync_logs WHERE run_id = :r AND message LIKE '%retrying%' "
                                   "ORDER BY id"), {"r": run_id}).scalars().all()
    db.session.commit()
    return list(rows)


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_freshworks_budget_headers_calls_and_credits_are_recorded_per_run(ctx, sim):
    vendor = sim.vendor("freshdesk")
    vendor.set_rate_limit(6000)
    settings = make_settings(ctx, rate_limit_share=0.5, **COUNTED)
    run_id = synced(settings, "freshdesk", "Incidents")
    row = metrics(run_id)["freshdesk"]
    served = [r for r in vendor.requests_log() if r["status"] == 200] if hasattr(vendor, "requests_log") else None
    assert row["budget_total"] == 6000 and row["share"] == 0.5
    assert row["headers"]["X-RateLimit-Total"] == "6000"
    assert int(row["headers"]["X-RateLimit-Remaining"]) == row["remaining_last"]
    assert row["remaining_min"] <= row["remaining_last"] < 6000
    # every list call asks for three includes (1 + 3 x 2 credits), every other call costs one credit
    lists = row["pages"]
    assert row["credits"] == lists * 7 + (row["requests"] - lists)
    assert 6000 - row["remaining_min"] == row["credits"]  # the vendor's own count of what this run spent
    assert row["items"] >= fx.SIZES["freshdesk"] and row["seconds"] > 0
    assert served is None or len(served) == row["requests"]


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_jira_limit_headers_and_a_forced_429_wait_are_recorded(ctx, sim):
    jira = sim.vendor("jira")
    jira.set_rate_limit(5000)
    jira.inject("429", count=1, path_contains="/search/jql", after=1)
    run_id = synced(make_settings(ctx, **COUNTED), "jira", "JIRA")
    row = metrics(run_id)["jira"]
    assert row["budget_total"] == 5000
    assert row["headers"]["X-RateLimit-Limit"] == "5000"
    assert row["headers"]["X-RateLimit-NearLimit"] == "false"
    assert row["rate_limit_waits"] >= 1 and row["retries"] == 1, retry_lines(run_id)
    assert row["credits"] == row["requests"] - 1  # a 429 costs nothing; every other Jira call one credit


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_the_estimate_of_a_full_resync_is_close_to_what_it_costs(ctx, sim):
    sim.vendor("freshdesk").set_rate_limit(6000)
    settings = make_settings(ctx, rate_limit_share=0.5, **COUNTED)
    synced(settings, "freshdesk", "Incidents")
    settings = replace(settings, vendors=replace(settings.vendors, freshservice_api_key=None))
    estimate = estimate_full(settings, "Incidents")
    assert [s.source for s in estimate.sources] == ["freshdesk"]
    part = estimate.sources[0]
    assert part.items == len(fx.cache_rows("freshdesk"))
    per_window = 6000 * 0.5
    assert part.minutes == part.credits / per_window
    assert re.fullmatch(rf"about {estimate.calls:,} calls, {estimate.credits:,} credits, under a minute at 50% of "
                        r"the budget", estimate.text())
    run_id = synced(settings, "freshdesk", "Incidents", full=True, estimate=estimate.as_json())
    actual = metrics(run_id)["freshdesk"]
    assert abs(actual["requests"] - estimate.calls) <= max(2, estimate.calls // 5), (actual, estimate)
    assert abs(actual["credits"] - estimate.credits) <= max(10, estimate.credits // 5), (actual, estimate)


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_without_an_advertised_budget_the_estimate_uses_the_last_runs_pace_or_says_unknown(ctx, sim):
    settings = make_settings(ctx, **COUNTED)  # Jira Cloud advertises no budget unless one is set
    unknown = estimate_full(settings, "JIRA")
    assert unknown.minutes is None and "time unknown until a sync has seen the budget" in unknown.text()
    synced(settings, "jira", "JIRA")
    paced = estimate_full(settings, "JIRA").sources[0]
    assert paced.minutes is not None and paced.basis.startswith("at the last run's pace")
    assert paced.items == fx.SIZES["jira"]


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
@pytest.mark.parametrize("sim", [{"sizes": {"freshservice": 10, "freshdesk": 10, "jira": 5}}], indirect=True)
def test_the_syncs_page_shows_each_vendors_budget_share_and_headroom_and_admins_confirm_a_full_resync(
        app, sim, client, viewer_client):  # a few tickets: the page shows the budget whatever the sync's size
    sim.vendor("freshdesk").set_rate_limit(600)
    sim.vendor("freshservice").set_rate_limit(6000)
    with app.app_context():
        first = synced(make_settings(app, rate_limit_share=0.5, **COUNTED), None, "Incidents")
        db.session.remove()
    page = client.get("/sync").get_data(as_text=True)
    row = re.search(r'<tr data-source="freshdesk">(.*?)</tr>', page, re.S).group(1)
    assert "600 credits per minute" in row and "50% · 300 per minute" in row and "<td>300 per minute</td>" in row
    assert re.search(r'<svg class="budget-bar"[^>]*role="img"[^>]*aria-label="Freshdesk: budget 600 credits per '
                     r'minute, our share 300, headroom 300', page)
    assert 'id="full-resync-Incidents"' in page
    viewer_page = viewer_client.get("/sync").get_data(as_text=True)
    assert 'data-source="freshdesk"' in viewer_page and "full-resync" not in viewer_page
    assert viewer_client.get("/sync/full/Incidents").status_code == 403
    assert viewer_client.post("/sync/full/Incidents").status_code == 403

    confirm = client.get("/sync/full/Incidents").get_data(as_text=True)
    summary = re.search(r'<p id="estimate-summary" class="estimate-summary">(.*?)</p>', confirm).group(1)
    assert re.fullmatch(r"About [\d,]+ calls, [\d,]+ credits, (under a minute|\d+ min) at 50% of the budget\.", summary)
    assert 'id="confirm-full-resync"' in confirm
    assert client.get("/sync/full/Nope").status_code == 404

    started = client.post("/sync/full/Incidents")
    assert started.status_code == 303
    run_id = started.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        run = runs.get_run(run_id)
        audit = db.session.execute(text("SELECT action, actor FROM audit_events WHERE action = 'sync.trigger'")).all()
        db.session.remove()
    assert [tuple(a) for a in audit] == [("sync.trigger", "admin")]
    assert run.full and run.estimate["text"].capitalize() + "." == summary and run_id != first
    detail = client.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    calls = re.search(r'<tr data-figure="calls">(.*?)</tr>', detail, re.S).group(1)
    assert f"<td>{run.estimate['calls']:,}</td>" in calls


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_an_at_risk_refresh_records_what_each_part_cost(ctx, sim):
    settings = make_settings(ctx, sla_horizon_minutes=240, **COUNTED)
    fd = sim.vendor("freshdesk")
    for ticket_id in ("5", "7"):
        fd.edit(ticket_id, status=2, due_by=fw_format(datetime.now(timezone.utc) + timedelta(hours=1)))
    synced(settings, "freshdesk", "Incidents")
    fd.set_rate_limit(6000)
    run = runs.create_run(AT_RISK, "scheduled", "scheduler").run
    runs.mark_running(run.id)
    refresh_at_risk(only(settings, "freshdesk"), jobs.RunReporter(run.id), run.id)
    row = metrics(run.id)["freshdesk"]
    assert row["requests"] >= 2 and row["budget_total"] == 6000
    assert row["credits"] == 6000 - row["remaining_min"]
    lines = [(line.source, line.message) for line in runs.run_log(run.id)]
    assert any(source == "freshdesk" and message.startswith("Freshdesk at-risk part: ") for source, message in lines)
