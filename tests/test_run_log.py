"""Run logs: every source and pass logs its pages, items, requests, credits, waits, retries and cursors (real HTTP
against the vendor simulator), and the run page groups the log by source and filters it by level."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.sync import jobs, runs
from tickettracker.sync.runner import run_sync

from . import simulator_fixtures as fx
from .simulator_fixtures import COUNTED, make_settings, only

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module

PASS_END = re.compile(r"(\d+) pages, (\d+) items, (\d+) requests, (\d+) credits, (\d+) rate-limit waits")


def running_run(sync_type: str) -> str:
    """A sync run in the Running state, as a worker holds it."""
    run = runs.create_run(sync_type, "manual", "admin").run
    assert runs.mark_running(run.id) is not None
    return run.id


def synced(settings, source: str, sync_type: str) -> tuple[str, list[tuple[str, str, str | None]]]:
    """Run one sync of a source through the worker's reporter; return the run id and its stored log lines."""
    run_id = running_run(sync_type)
    outcome = run_sync(only(settings, source), sync_type, jobs.RunReporter(run_id), run_id=run_id)
    assert outcome.status == "completed"
    runs.finish(run_id, SyncStatus.COMPLETED, outcome.message)
    rows = db.session.execute(text("SELECT level, message, source FROM sync_logs WHERE run_id = :r ORDER BY id"),
                              {"r": run_id}).all()
    db.session.commit()
    return run_id, [tuple(row) for row in rows]


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_a_freshservice_sync_logs_waits_retries_with_reasons_passes_and_cursors(ctx, sim):
    settings = make_settings(ctx, **COUNTED)
    vendor = sim.vendor("freshservice")
    vendor.inject("429", count=1, path_contains="/api/v2/tickets?", after=1)
    vendor.inject("503", count=1, path_contains="/api/v2/tickets?", after=3)
    run_id, lines = synced(settings, "freshservice", "Incidents")
    messages = [message for _, message, _ in lines]

    # every line of the sync names its source; the run's own lines (a source left out) name none
    assert {(source, m.startswith("Freshdesk skipped")) for _, m, source in lines} == {("freshservice", False),
                                                                                       (None, True)}
    assert any(re.fullmatch(r"Freshservice: waited \d+\.\d s \(rate limit: HTTP 429: You have exceeded the limit "
                            r"of requests per minute\); retrying \(attempt 2 of 5\)", m) for m in messages), messages
    assert any("waited" in m and "(before retrying: HTTP 503: The server is temporarily unavailable.)" in m
               for m in messages), messages
    starts = [m for m in messages if re.search(r"open tickets: starting from updated_since 2000-01-01T00:00:00Z, "
                                               r"page 1$", m)]
    workspaces = len(settings.vendors.freshservice_workspaces)
    assert len(starts) == workspaces == 3  # one open pass per configured workspace
    ends = [m for m in messages if "ended at newest update" in m]
    assert len(ends) == 3 * workspaces  # open, deleted and spam in each workspace
    figures = [tuple(map(int, PASS_END.search(m).groups())) for m in ends]
    fetched = db.session.execute(text("SELECT fetched FROM sync_runs WHERE id = :r"), {"r": run_id}).scalar()
    assert sum(f[1] for f in figures) == fetched == len(fx.cache_rows("freshservice"))
    assert sum(f[4] for f in figures) >= 1  # the 429's wait is counted in its pass
    total = next(m for m in messages if m.startswith("Freshservice in all: "))
    assert "1 rate-limit waits" in total and "2 retries" in total
    assert total.endswith("cursor from the beginning (no cursor yet) to watermark "
                          + fx.cursor_rows()[0][1].isoformat())

    _, again = synced(settings, "freshservice", "Incidents")
    follow = next(m for _, m, _ in again if m.startswith("Freshservice in all: "))
    assert re.search(r"cursor from watermark 20\S+ to watermark 20\S+$", follow), follow


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_a_jira_sync_logs_the_vendor_reason_of_a_rate_limit_and_its_census_pass(ctx, sim):
    settings = make_settings(ctx, **COUNTED)
    sim.vendor("jira").inject("429", count=1, path_contains="/search/jql", after=1)
    _, lines = synced(settings, "jira", "JIRA")
    messages = [message for _, message, _ in lines]
    assert any(re.match(r"Jira: waited \d+\.\d s \(rate limit: HTTP 429 \(jira-burst-based\)", m) for m in messages)
    search = next(m for m in messages if m.startswith("Jira issues updated since the bookmark: ")
                  and "ended at" in m)
    assert "started from updated >= 2000-01-01T00:00:00+00:00, ended at bookmark 20" in search
    assert int(PASS_END.search(search).group(2)) >= 45  # items the vendor returned (boundary issues are read again)
    census = next(m for m in messages if m.startswith("Jira census (ids only): ") and "ended at" in m)
    assert census.endswith("ended at 45 issues listed")


@pytest.mark.friendly_vendor  # exact request, credit and retry counts
def test_a_pass_cut_short_by_a_failure_is_logged_as_stopped(ctx, sim):
    settings = make_settings(ctx, **COUNTED)
    sim.vendor("freshdesk").inject("500", count=50, path_contains="/api/v2/tickets?", after=2)
    run_id = running_run("Incidents")
    try:
        run_sync(only(settings, "freshdesk"), "Incidents", jobs.RunReporter(run_id), run_id=run_id)
    except Exception as error:  # noqa: BLE001 - the failure is what this test is about
        assert "gave up" in str(error)
    else:
        raise AssertionError("the sync should have failed")
    messages = [line.message for line in runs.run_log(run_id)]
    assert any(m.startswith("Freshdesk open tickets: ") and "stopped early, last at where it stopped" in m
               for m in messages), messages
    assert any(m.startswith("Freshdesk in all: ") for m in messages)


def test_the_run_page_groups_the_log_by_source_and_filters_by_level(app, client):
    with app.app_context():
        run_id = running_run("Incidents")
        runs.append_log(run_id, "info", "Incidents sync started")
        runs.append_log(run_id, "info", "Freshservice open tickets: starting", "freshservice")
        runs.append_log(run_id, "warning", "Freshservice: waited 2.0 s (rate limit: HTTP 429)", "freshservice")
        runs.append_log(run_id, "info", "Freshdesk open tickets: starting", "freshdesk")
        runs.append_log(run_id, "error", "Freshdesk <b>refused</b>", "freshdesk")
    page = client.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    headings = re.findall(r'<h3 id="log-group-\d+">([^<]+)</h3>', page)
    assert headings == ["Run", "Freshservice", "Freshdesk"]
    assert "Freshservice open tickets: starting" in page
    assert "Freshdesk &lt;b&gt;refused&lt;/b&gt;" in page  # vendor text is escaped
    assert 'aria-current="true">All lines</a>' in page

    warnings = client.get(f"/sync/runs/{run_id}?level=warning", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert warnings.lstrip().startswith('<div id="run-body"')
    assert "<html" not in warnings
    assert "waited 2.0 s" in warnings and "refused" in warnings and "starting" not in warnings
    assert re.findall(r'<h3 id="log-group-\d+">([^<]+)</h3>', warnings) == ["Run", "Freshservice", "Freshdesk"]
    assert "1 line of a lower level not shown." in warnings
    assert 'aria-current="true">Warnings and errors</a>' in warnings

    errors = client.get(f"/sync/runs/{run_id}?level=error").get_data(as_text=True)
    assert "refused" in errors and "waited 2.0 s" not in errors
    assert client.get(f"/sync/runs/{run_id}?level=loud").status_code == 400
    api = client.get(f"/api/sync/jobs/{run_id}/log").get_json()
    assert [line["source"] for line in api["lines"]] == [None, "freshservice", "freshservice", "freshdesk", "freshdesk"]
