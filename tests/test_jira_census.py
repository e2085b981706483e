"""The Jira census: id-only pages that never name an issue, refusals that only warn, look-ups before flagging."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tickettracker.connectors import ConfigurationError, jira_census
from tickettracker.core.config import get_settings
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, assert_matches_truth, cache_ids, cache_rows, cursor_rows, make_settings, sync
from .test_jira_identity import move_issue

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module

CENSUS = "fields=id%2Ckey"  # the census asks for ids and keys only


def census_queries(vendor) -> list[dict[str, list[str]]]:
    """The query strings of the census searches the vendor answered, in order (retried failures left out)."""
    return [parse_qs(urlsplit(path).query) for _, path, status in vendor.requests if CENSUS in path and status == 200]


def test_the_census_pages_by_token_from_a_first_page_without_an_id_bound(ctx, sim, monkeypatch):
    monkeypatch.setitem(jira_census.CENSUS_PAGE, "cloud", 10)  # five pages for the 45 issues
    vendor = sim.vendor("jira")
    outcome = sync(make_settings(ctx), "jira")
    queries = census_queries(vendor)
    assert len(queries) == 5 and outcome.status == "completed"
    assert vendor.request_count(path_contains="/project") == 0  # nothing missing: no visibility look-up
    assert "nextPageToken" not in queries[0] and all("nextPageToken" in q for q in queries[1:])
    for query in queries:
        assert not re.search(r"\b(id|key)\s*(>=|<=|!=|>|<|=|in\b)", query["jql"][0], re.I), query["jql"][0]
        assert query["fields"] == ["id,key"]
    assert_matches_truth(sim, "jira")


def test_a_refused_census_is_a_warning_and_is_tried_again_next_sync(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    vendor = sim.vendor("jira")
    gone = cache_ids(vendor, "jira", vendor.mutate(3, seed=5, kinds=("delete",)))
    vendor.inject("403", count=1, path_contains=CENSUS)
    recorder = Recorder()
    outcome = sync(settings, "jira", recorder)
    assert outcome.status == "completed"
    warnings = [message for level, message in recorder.logs if level == "warning" and "retrying" not in message]
    assert len(warnings) == 1 and "census could not finish" in warnings[0] and "HTTP 403" in warnings[0]
    assert "JIRA_PROJECTS" not in recorder.text() and "1 warning:" in outcome.message
    assert cursor_rows()[0][2]["runs_since_census"] == 1  # still due
    assert not any(cache_rows("jira")[key]["is_deleted"] for key in gone)
    again = sync(settings, "jira")
    assert again.counts.deleted == 3 and "warning" not in again.message
    assert_matches_truth(sim, "jira")


def test_a_census_that_keeps_failing_never_fails_the_sync(ctx, sim):
    settings = make_settings(ctx, http_max_retries=1)
    sim.vendor("jira").inject("500", count=100, path_contains=CENSUS)
    recorder = Recorder()
    outcome = sync(settings, "jira", recorder)
    assert outcome.status == "completed" and len(cache_rows("jira")) == 45
    assert any("census could not finish" in m and "HTTP 500" in m for level, m in recorder.logs if level == "warning")


def test_only_a_refused_main_search_points_at_the_scope_settings(ctx, sim):
    settings = make_settings(ctx)
    broken = replace(settings, vendors=replace(settings.vendors, jira_jql="summary ~"))
    with pytest.raises(ConfigurationError, match="check JIRA_PROJECTS and JIRA_JQL"):
        sync(broken, "jira")


def test_deleted_issues_leave_the_cache_at_the_next_sync_by_default(ctx, sim):
    settings = make_settings(ctx, jira_census_every=get_settings(ctx).jira_census_every)
    sync(settings, "jira")
    vendor = sim.vendor("jira")
    gone = cache_ids(vendor, "jira", vendor.mutate(4, seed=8, kinds=("delete",)))
    vendor.reset_counts()
    outcome = sync(settings, "jira")
    assert outcome.counts.deleted == 4
    assert all(cache_rows("jira")[key]["is_deleted"] and cache_rows("jira")[key]["hidden_reason"] is None
               for key in gone)
    for key in gone:  # each one looked up before it was flagged
        assert vendor.request_count(path_contains=f"/rest/api/3/issue/{key}?") == 1
    assert_matches_truth(sim, "jira")


def test_an_issue_moved_out_of_the_synced_projects_is_out_of_scope_not_deleted(ctx, sim, client):
    settings = make_settings(ctx)
    scoped = replace(settings, vendors=replace(settings.vendors, jira_projects=("OPS", "ENG")))
    sync(scoped, "jira")
    row = next(r for r in cache_rows("jira").values() if r["external_key"] == "OPS-2")
    move_issue(sim.vendor("jira"), "OPS-2", "SEC")
    outcome = sync(scoped, "jira")
    moved = cache_rows("jira")[row["external_id"]]
    assert moved["is_deleted"] and moved["hidden_reason"] == "out_of_scope" and outcome.counts.deleted == 0
    page = client.get(f"/tickets/{_ticket_id(row['external_id'])}").get_data(as_text=True)
    assert "outside the synced projects or filter now (not deleted)" in page


def test_a_forbidden_issue_or_a_project_gone_from_view_is_not_visible_not_deleted(ctx, sim, client):
    settings = make_settings(ctx)
    sync(settings, "jira")
    vendor = sim.vendor("jira")
    forbidden = cache_ids(vendor, "jira", vendor.mutate(1, seed=2, kinds=("delete",))).pop()
    vendor.inject("403", count=1, path_contains=f"/issue/{forbidden}?")
    _hide_project(vendor, "SEC")
    hidden = {key for key, r in cache_rows("jira").items() if r["project"] == "SEC"}
    vendor.reset_counts()
    outcome = sync(settings, "jira")
    rows = cache_rows("jira")
    assert outcome.counts.deleted == 0
    assert {key for key, r in rows.items() if r["hidden_reason"] == "not_visible"} == hidden | {forbidden}
    assert all(rows[key]["is_deleted"] for key in hidden | {forbidden})
    lookups = vendor.request_count("/issue/") - vendor.request_count("/remotelink")
    assert lookups == 1  # a project gone from view needs no look-ups
    assert "no longer visible to the sync account (not deleted)" in \
        client.get(f"/tickets/{_ticket_id(forbidden)}").get_data(as_text=True)
    visible = client.get("/api/tickets?view=development&limit=500").get_json()["items"]
    assert not {item["externalId"] for item in visible} & (hidden | {forbidden})


def test_an_issue_seen_again_is_revived(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    key = next(iter(cache_rows("jira")))
    db.session.execute(text("UPDATE tickets SET is_deleted = true, hidden_reason = 'not_visible' "
                            "WHERE external_id = :k"), {"k": key})
    db.session.commit()
    sync(settings, "jira")
    assert (cache_rows("jira")[key]["is_deleted"], cache_rows("jira")[key]["hidden_reason"]) == (False, None)


def _ticket_id(external_id: str) -> int:
    return db.session.scalar(db.select(Ticket.id).where(Ticket.source == "jira", Ticket.external_id == external_id))


def _hide_project(vendor, project_key: str) -> None:
    """The account loses Browse on a project: it leaves the project list, search and issue reads."""
    vendor.hide_project(project_key)


def test_remote_links_that_keep_failing_are_a_warning_not_a_failed_sync(ctx, sim):
    sim.vendor("jira").inject("500", count=1000, path_contains="/remotelink")
    recorder = Recorder()
    outcome = sync(make_settings(ctx, http_max_retries=1), "jira", recorder)
    assert outcome.status == "completed" and len(cache_rows("jira")) == 45
    assert any("remote issue links failed" in m for level, m in recorder.logs if level == "warning")
