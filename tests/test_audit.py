"""The completeness audit after every sync: silent deletions and missing tickets repaired, failures only warn,
the budget share is kept, and the result is recorded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncAudit
from tickettracker.sync import runs
from tickettracker.sync.runner import run_sync

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, assert_matches_truth, cache_ids, live_ids, make_settings, sync

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module

SEARCH = {"freshservice": "/api/v2/tickets/filter", "freshdesk": "/api/v2/search/tickets"}


def audits(source: str) -> list[dict]:
    """The recorded audits of a source, oldest first."""
    rows = db.session.execute(text("SELECT * FROM sync_audits WHERE source = :s ORDER BY id"),
                              {"s": source}).mappings().all()
    db.session.commit()
    return [dict(row) for row in rows]


def silently(vendor, count: int, state: str, skip: int = 0) -> list[str]:
    """Move the `count` live items updated longest ago to a state without touching updated_at (ids returned)."""
    vendor.store.bump_on_delete = False
    with vendor.store.lock:
        items = sorted((i for i in vendor.store.items.values() if i.state == "live"), key=lambda i: i.updated)
    chosen = [item.ext_id for item in items[skip:skip + count]]
    for ext_id in chosen:
        vendor.store.set_state(ext_id, state)
    return chosen


@pytest.mark.parametrize("source", ["freshservice", "freshdesk"])
def test_a_silent_freshworks_deletion_leaves_the_live_lists_at_the_next_sync(ctx, sim, source):
    settings = make_settings(ctx)
    vendor = sim.vendor(source)
    for kind in ("delete", "spam"):  # changes that bump updated_at move the deleted and spam filter bookmarks
        vendor.mutate(1, kinds=(kind,))
    sync(settings, source)
    gone = silently(vendor, 3, "deleted") + silently(vendor, 2, "spam")
    recorder = Recorder()
    outcome = sync(settings, source, recorder)
    assert outcome.status == "completed", outcome.message
    assert not set(gone) & live_ids(source)
    assert_matches_truth(sim, source)
    last = audits(source)[-1]
    assert last["status"] == "complete" and last["repaired"] == 5
    assert last["cache_count"] == last["vendor_count"] + 0 == len(vendor.truth())


def test_a_jira_deletion_is_found_by_the_count_even_when_the_census_is_not_due(ctx, sim):
    settings = make_settings(ctx, jira_census_every=1000)
    vendor = sim.vendor("jira")
    sync(settings, "jira")
    gone = cache_ids(vendor, "jira", vendor.mutate(2, seed=4, kinds=("delete",)))
    outcome = sync(settings, "jira")
    assert outcome.status == "completed" and outcome.counts.deleted == 2
    assert not gone & live_ids("jira")
    assert_matches_truth(sim, "jira")
    last = audits("jira")[-1]
    assert last["status"] == "complete" and last["repaired"] >= 2
    assert last["cache_count"] == last["vendor_count"] == len(vendor.truth())
    assert vendor.request_count(path_contains="approximate-count", status=200) == 2 * len(sim.jira_projects)


def test_an_approximate_jira_count_costs_a_census_but_never_a_wrong_cache(ctx, sim):
    settings = make_settings(ctx, jira_census_every=1000)
    vendor = sim.vendor("jira")
    vendor.approximate_error = 0.2
    sync(settings, "jira")
    vendor.mutate(3, seed=8, kinds=("delete", "update", "create"))
    assert sync(settings, "jira").status == "completed"
    assert_matches_truth(sim, "jira")
    assert audits("jira")[-1]["status"] == "complete"


@pytest.mark.parametrize("source", ["freshservice", "freshdesk"])
def test_a_ticket_the_cache_lacks_is_fetched_and_stored(ctx, sim, source):
    settings = make_settings(ctx)
    sync(settings, source)
    truth = sim.vendor(source).truth()
    lost = sorted(truth, key=lambda ext: truth[ext]["updated_at"])[:4]  # long unchanged: no sync re-reads them
    db.session.execute(text("DELETE FROM tickets WHERE source = :s AND external_id = ANY(:ids)"),
                       {"s": source, "ids": lost})
    db.session.commit()
    outcome = sync(settings, source)
    assert outcome.status == "completed" and set(lost) <= live_ids(source)
    assert_matches_truth(sim, source)
    assert audits(source)[-1]["repaired"] == 4
    assert sim.vendor(source).request_count(path_contains=f"/api/v2/tickets/{lost[0]}?") == 1


@pytest.mark.parametrize("source", ["freshservice", "freshdesk", "jira"])
def test_a_failing_count_endpoint_is_a_warning_and_the_sync_completes(ctx, sim, source):
    settings = make_settings(ctx, http_max_retries=1)
    sync(settings, source)
    vendor = sim.vendor(source)
    vendor.inject("500", count=50, path_contains=SEARCH.get(source, "approximate-count"))
    recorder = Recorder()
    outcome = sync(settings, source, recorder)
    assert outcome.status == "completed"
    assert "completeness audit failed" in outcome.message and "1 warning:" in outcome.message
    assert any(level == "warning" and "audit failed" in message for level, message in recorder.logs)
    assert audits(source)[-1]["status"] == "failed"
    vendor.clear_faults()
    again = sync(settings, source)
    assert "warning" not in again.message and audits(source)[-1]["status"] == "complete"


@pytest.mark.parametrize("source", ["freshservice", "freshdesk"])
def test_the_audit_spends_no_more_than_its_share_of_the_rate_budget(ctx, sim, source):
    # 60,000 requests a minute over a 60-minute schedule; a share of 1/360,000 leaves the audit 10 calls
    settings = make_settings(ctx, audit_rate_share=1 / 360_000)
    vendor = sim.vendor(source)
    vendor.set_rate_limit(60_000)
    for kind in ("delete", "spam"):
        vendor.mutate(1, kinds=(kind,))
    sync(settings, source)
    gone = silently(vendor, 24, "deleted")
    vendor.reset_counts()
    outcome = sync(settings, source)
    spent = vendor.request_count(path_contains=SEARCH[source]) + sum(
        vendor.request_count(path_contains=f"/api/v2/tickets/{ext}?") for ext in gone)
    assert outcome.status == "completed" and spent == 10
    last = audits(source)[-1]
    assert last["status"] == "differs" and last["calls"] == 10 and "rate budget" in last["message"]
    assert 0 < len(set(gone) - live_ids(source)) < 24  # part repaired now, the rest by the next audits
    for _ in range(4):
        sync(settings, source)
    assert not set(gone) & live_ids(source) and audits(source)[-1]["status"] == "complete"


def test_the_syncs_page_the_run_and_the_stamps_show_each_audit(ctx, sim, client):
    settings = make_settings(ctx)
    for kind in ("delete", "spam"):
        sim.vendor("freshdesk").mutate(1, kinds=(kind,))
    run_sync(settings, "Incidents", Recorder())
    silently(sim.vendor("freshdesk"), 2, "deleted")
    run_id = runs.create_run("Incidents", "manual", "alice").run.id
    runs.mark_running(run_id)
    outcome = run_sync(settings, "Incidents", Recorder(), run_id=run_id)
    runs.finish(run_id, SyncStatus.COMPLETED, outcome.message)
    fs, fd = len(sim.vendor("freshservice").truth()), len(sim.vendor("freshdesk").truth())

    detail = client.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert "Completeness audit" in detail
    row = re.search(r'<tr class="audit-complete" data-audit="freshdesk">(.*?)</tr>', detail, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[:4] == ["Freshdesk", "complete", f"{fd:,}", f"{fd:,}"] and cells[5] == "2"
    history = client.get("/sync").get_data(as_text=True)
    assert f"Freshdesk audit: complete, {fd:,} of {fd:,}, 2 repaired" in history
    assert f"Freshservice audit: complete, {fs:,} of {fs:,}</span>" in history
    for page in ("/", "/incidents"):
        html = client.get(page).get_data(as_text=True)
        assert re.search(rf"Freshdesk complete as of <time [^>]*>[^<]*</time> — {fd:,} of {fd:,}", html), page
        assert re.search(rf"Freshservice complete as of <time [^>]*>[^<]*</time> — {fs:,} of {fs:,}", html), page

    db.session.add(SyncAudit(run_id=run_id, source="freshdesk", account="", status="differs", cache_count=fd + 3,
                             vendor_count=fd, slices_checked=4, repaired=0, calls=40, duration_ms=900,
                             message="its share of the rate budget (40 calls) is spent"))
    db.session.commit()
    generations.bump(generations.RUNS)  # as sync/audit.py does after recording an audit
    html = client.get("/incidents").get_data(as_text=True)
    assert re.search(rf"Incomplete</span> Freshdesk as of <time [^>]*>[^<]*</time>: {fd + 3:,} of {fd:,} \(-3\); "
                     r"repaired by the next sync, <time ", html)
    db.session.add(SyncAudit(run_id=run_id, source="freshservice", account="", status="failed", slices_checked=0,
                             repaired=0, calls=2, duration_ms=100, message="Freshservice is unavailable"))
    db.session.commit()
    generations.bump(generations.RUNS)
    html = client.get("/").get_data(as_text=True)
    assert re.search(r"Unchecked</span> Freshservice: the completeness audit at <time [^>]*>[^<]*</time> failed; the "
                     r"next sync \(<time ", html)
