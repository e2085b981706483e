"""run_sync as a whole: configuration errors, skipped sources, cancellation, progress and the CLI."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tickettracker.connectors import ConfigurationError
from tickettracker.core.config import VendorSettings, get_settings
from tickettracker.sync.runner import run_sync

from . import simulator_fixtures as fx
from .simulator_fixtures import (
    Recorder,
    assert_matches_truth,
    cache_rows,
    make_settings,
    sync,
)

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def test_no_configured_source_names_the_settings_to_set(ctx):
    settings = replace(get_settings(ctx), vendors=VendorSettings())
    with pytest.raises(ConfigurationError) as caught:
        run_sync(settings, "Incidents", Recorder())
    assert "FRESHSERVICE_API_KEY" in str(caught.value) and "FRESHDESK_API_KEY" in str(caught.value)


def test_an_unknown_sync_type_is_a_configuration_error(ctx):
    with pytest.raises(ConfigurationError, match="unknown sync type"):
        run_sync(make_settings(ctx), "Tickets", Recorder())


def test_incidents_sync_both_sources_and_reports_a_source_without_credentials_as_skipped(ctx, sim):
    both = run_sync(make_settings(ctx), "Incidents", Recorder())
    assert both.status == "completed" and both.skipped_sources == []
    assert cache_rows("freshservice") and cache_rows("freshdesk")
    recorder = Recorder()
    one = sync(make_settings(ctx), "freshdesk", recorder)
    assert one.skipped_sources == ["freshservice"]
    assert "Freshservice skipped" in one.message
    assert any("Freshservice skipped" in message for _, message in recorder.logs)


def test_progress_is_honest_about_missing_totals_and_counts_add_up(ctx, sim):
    recorder = Recorder()
    outcome = sync(make_settings(ctx), "freshdesk", recorder, full=True)
    page_events = [(p, m) for p, m in recorder.events if "request" in m]
    assert page_events and all(p is None and "gives no total" in m for p, m in page_events)
    assert recorder.events[-1][0] == 100
    counts = outcome.counts
    assert counts.fetched >= counts.created == len(cache_rows("freshdesk"))
    assert counts.requests == sim.vendor("freshdesk").request_count()
    assert "fetched" in outcome.message and "rate-limit waits" in outcome.message


def test_cancelling_stops_at_a_page_boundary_and_keeps_committed_pages(ctx, sim):
    outcome = sync(make_settings(ctx), "jira", Recorder(cancel_after=2), full=True)
    assert outcome.status == "cancelled"
    assert 10 < len(cache_rows("jira")) <= 2 * 10
    assert "committed pages are kept" in outcome.message


def test_full_ignores_the_watermark(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "freshdesk")
    assert sync(settings, "freshdesk").counts.fetched < 10
    assert sync(settings, "freshdesk", full=True).counts.fetched >= len(sim.vendor("freshdesk").truth())


def test_cli_runs_a_sync_and_prints_a_summary(ctx, sim):
    result = ctx.test_cli_runner().invoke(args=["sync", "run", "jira"])
    assert result.exit_code == 0, result.output
    assert "fetched 45, created 45" in result.output and "rate-limit waits" in result.output
    assert_matches_truth(sim, "jira")


def test_cli_fails_with_a_clear_message_and_a_non_zero_exit(ctx, sim):
    sim.vendor("freshdesk").set_bad_token(True)
    result = ctx.test_cli_runner().invoke(args=["sync", "run", "incidents"])
    assert result.exit_code != 0
    assert "FRESHDESK_API_KEY" in result.output and "configuration change" in result.output
    assert sim.credentials["freshdesk"]["api_key"] not in result.output


def test_a_cancel_interrupts_a_long_pacing_wait(ctx, sim):
    sim.vendor("jira").set_rate_limit(4, window_seconds=60)
    settings = make_settings(ctx, rate_limit_window_seconds=60.0)  # pacing: one request every 30 s
    deadline = time.monotonic() + 0.5
    reporter = Recorder()
    reporter.cancelled = lambda: time.monotonic() > deadline
    started = time.monotonic()
    outcome = sync(settings, "jira", reporter)
    assert outcome.status == "cancelled"
    assert time.monotonic() - started < 3
