"""Jira specifics: explicit fields, epoch-ms bounds, Seraph bad-token detection, census, Data Center flavour."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tickettracker.connectors import ConfigurationError
from tickettracker.connectors.jira import JiraConnector
from tickettracker.store.extensions import db

from . import simulator_fixtures as fx
from .simulator_fixtures import (
    Recorder,
    assert_matches_truth,
    cache_ids,
    cache_rows,
    cursor_rows,
    jira_row,
    make_settings,
    sync,
)

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def search_queries(vendor) -> list[dict[str, list[str]]]:
    """The query strings of every issue search the vendor saw (not the completeness audit's approximate counts)."""
    return [parse_qs(urlsplit(path).query) for _, path, _ in vendor.requests
            if "/search" in path and "/approximate-count" not in path]


def test_search_asks_for_fields_with_epoch_ms_bounds_in_a_stable_order(ctx, sim):
    sync(make_settings(ctx, jira_census_every=1000), "jira")
    queries = search_queries(sim.vendor("jira"))
    assert queries
    for query in queries:
        assert "summary" in query["fields"][0] and "customfield_10020" in query["fields"][0]
        assert re.search(r'^project in \("OPS", "ENG", "SEC"\) AND updated >= \d{12,} '
                         r"ORDER BY updated ASC, key ASC$", query["jql"][0]), query["jql"][0]
    rows = cache_rows("jira").values()
    described = [row for row in rows if row["raw"]["fields"]["description"] is not None]
    assert described and all("Steps to reproduce" in row["description_text"] and "- restart" in
                             row["description_text"] and '"type"' not in row["description_text"] for row in described)
    assert any(row["group_name"] and "Sprint" in row["group_name"] for row in rows)
    assert {row["status_category"] for row in rows} <= {"todo", "in_progress", "done"}


def test_a_bad_token_is_caught_even_when_search_answers_200(ctx, sim):
    settings = make_settings(ctx)
    connector = JiraConnector.from_settings(settings)
    sim.vendor("jira").set_bad_token(True)
    try:
        with pytest.raises(ConfigurationError) as caught:
            connector._search('project = "OPS" AND updated >= 0', None, ["summary"], 10)
    finally:
        connector.close()
    assert "X-Seraph-LoginReason" in str(caught.value) and "JIRA_API_TOKEN" in str(caught.value)
    assert sim.vendor("jira").request_count(status=200) == 1


def test_the_census_runs_every_n_syncs_and_flags_deleted_issues(ctx, sim):
    settings = make_settings(ctx, jira_census_every=3, audit_rate_share=0)  # the census cadence alone, no audit
    sync(settings, "jira")
    gone = cache_ids(sim.vendor("jira"), "jira", sim.vendor("jira").mutate(4, seed=3, kinds=("delete",)))
    sync(settings, "jira")
    assert not any(cache_rows("jira")[key]["is_deleted"] for key in gone)
    assert cursor_rows()[0][2]["runs_since_census"] == 2
    outcome = sync(settings, "jira")
    assert all(cache_rows("jira")[key]["is_deleted"] for key in gone)
    assert outcome.counts.deleted == 4
    assert cursor_rows()[0][2]["runs_since_census"] == 0
    assert_matches_truth(sim, "jira")


def test_a_full_sync_always_takes_a_census_and_refetches_what_the_cache_lost(ctx, sim):
    settings = make_settings(ctx, jira_census_every=1000, audit_rate_share=0)  # no audit: only a full sync repairs
    sync(settings, "jira")
    db.session.execute(text("DELETE FROM tickets WHERE external_key IN ('OPS-1', 'ENG-2')"))
    db.session.execute(text("UPDATE tickets SET is_deleted = true WHERE external_key = 'SEC-1'"))
    db.session.commit()
    sync(settings, "jira")
    assert "OPS-1" not in {row["external_key"] for row in cache_rows("jira").values()}
    sync(settings, "jira", full=True)
    assert_matches_truth(sim, "jira")


def test_an_empty_census_does_not_flag_the_whole_cache(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    recorder = Recorder()
    empty = replace(settings, vendors=replace(settings.vendors, jira_jql='labels = "no-such-label"'))
    sync(empty, "jira", recorder)
    assert not any(row["is_deleted"] for row in cache_rows("jira").values())
    assert any("census listed no issue at all" in message for _, message in recorder.logs)
    jira = sim.vendor("jira")
    assert jira.request_count("/issue/") == jira.request_count("/remotelink")  # no look-up per cached issue


@pytest.mark.parametrize("sim", [{"jira_timezone": "America/Los_Angeles"}, {"jira_timezone": "Asia/Kolkata"}],
                         indirect=True)
def test_the_users_timezone_does_not_lose_updates(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    sim.vendor("jira").mutate(12, seed=4)
    sync(settings, "jira")
    assert_matches_truth(sim, "jira")
    row = jira_row("OPS-1")
    assert row["updated_at"].utcoffset() == timedelta(0)


def test_eventually_consistent_search_converges_within_the_overlap(ctx, sim):
    settings = make_settings(ctx, sync_overlap_seconds=5)
    sync(settings, "jira")
    vendor = sim.vendor("jira")
    vendor.set_consistency_delay(0.6)
    vendor.mutate(8, seed=6, kinds=("update", "create"))
    sync(settings, "jira")
    time.sleep(0.7)
    sync(settings, "jira")
    assert_matches_truth(sim, "jira")


def test_a_stale_token_on_the_last_page_does_not_loop(ctx, sim):
    sim.vendor("jira").stale_token_on_last_page = True
    assert sync(make_settings(ctx), "jira").status == "completed"
    assert_matches_truth(sim, "jira")


@pytest.mark.parametrize("sim", [{"jira_flavour": "dc"}], indirect=True)
def test_data_center_uses_startat_and_a_bearer_token_and_reports_percent(ctx, sim):
    recorder = Recorder()
    outcome = sync(make_settings(ctx), "jira", recorder, full=True)
    assert outcome.status == "completed"
    assert all("/rest/api/2/" in path for _, path, _ in sim.vendor("jira").requests)
    assert any(percent not in (None, 0, 100) for percent, _ in recorder.events)
    assert_matches_truth(sim, "jira")


def test_data_center_settings_against_cloud_say_which_flavour_to_set(ctx, sim):
    settings = make_settings(ctx)
    settings = replace(settings, vendors=replace(settings.vendors, jira_flavour="datacenter"))
    with pytest.raises(ConfigurationError) as caught:
        sync(settings, "jira")
    assert "JIRA_FLAVOUR=cloud" in str(caught.value)
