"""Injected vendor faults: every sync completes or raises the right error, keeps its pages and converges."""

from __future__ import annotations

import time

import pytest

from tickettracker.connectors import ConfigurationError, TransientSyncError

from . import simulator_fixtures as fx
from .simulator_fixtures import (
    Recorder,
    assert_matches_truth,
    cache_rows,
    make_settings,
    sync,
)

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module

SOURCES = ["freshservice", "freshdesk", "jira"]
LIST_PATH = {"freshservice": "/api/v2/tickets?", "freshdesk": "/api/v2/tickets?", "jira": "/search/jql"}
KEY_SETTING = {"freshservice": "FRESHSERVICE_API_KEY", "freshdesk": "FRESHDESK_API_KEY", "jira": "JIRA_API_TOKEN"}
SECRET = {"freshservice": "api_key", "freshdesk": "api_key", "jira": "api_token"}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "reset", "truncated"])
def test_transient_faults_are_retried_and_the_sync_completes(ctx, sim, source, fault):
    settings = make_settings(ctx)
    sim.vendor(source).inject(fault, count=2, path_contains=LIST_PATH[source], after=1)
    outcome = sync(settings, source, full=True)
    assert outcome.status == "completed"
    assert outcome.counts.retries >= 2
    if fault == "429":
        assert outcome.counts.rate_limit_waits >= 2
    assert_matches_truth(sim, source)


@pytest.mark.parametrize("source", SOURCES)
def test_a_rate_limit_storm_fails_as_transient_keeps_pages_and_the_next_sync_converges(ctx, sim, source):
    settings = make_settings(ctx)
    vendor = sim.vendor(source)
    vendor.inject("429", count=50, path_contains=LIST_PATH[source], after=3)
    with pytest.raises(TransientSyncError) as caught:
        sync(settings, source, full=True)
    assert "gave up after 5 attempts" in str(caught.value)
    assert caught.value.retryable
    kept = cache_rows(source)
    assert kept
    vendor.clear_faults()
    sync(settings, source)
    assert_matches_truth(sim, source)
    assert set(kept) <= set(cache_rows(source))


@pytest.mark.parametrize("source", SOURCES)
def test_a_rejected_credential_mid_sync_names_the_setting_and_leaks_no_secret(ctx, sim, source):
    settings = make_settings(ctx)
    vendor = sim.vendor(source)
    vendor.inject("401", count=1, path_contains=LIST_PATH[source], after=3)
    recorder = Recorder()
    with pytest.raises(ConfigurationError) as caught:
        sync(settings, source, recorder, full=True)
    message = str(caught.value)
    assert KEY_SETTING[source] in message and "401" in message
    secret = sim.credentials[source][SECRET[source]]
    assert secret not in message and secret not in recorder.text()
    assert not caught.value.retryable
    assert cache_rows(source)
    sync(settings, source)
    assert_matches_truth(sim, source)


@pytest.mark.parametrize("source", ["freshdesk", "jira"])
def test_a_bad_token_fails_at_once_without_retries(ctx, sim, source):
    settings = make_settings(ctx)
    vendor = sim.vendor(source)
    vendor.set_bad_token(True)
    vendor.reset_counts()
    with pytest.raises(ConfigurationError) as caught:
        sync(settings, source)
    assert KEY_SETTING[source] in str(caught.value)
    assert vendor.request_count() <= 2
    assert cache_rows(source) == {}


def test_persistent_server_errors_raise_transient_error_with_the_vendor_named(ctx, sim):
    settings = make_settings(ctx)
    sim.vendor("freshdesk").inject("500", count=100)
    with pytest.raises(TransientSyncError) as caught:
        sync(settings, "freshdesk")
    assert str(caught.value).startswith("Freshdesk is unavailable: HTTP 500")


@pytest.mark.parametrize("sim", [{"sizes": {**fx.SIZES, "jira": 10}}], indirect=True)  # the point is the one wait
def test_retry_after_is_honoured(ctx, sim):
    settings = make_settings(ctx)
    vendor = sim.vendor("jira")
    vendor.fault_retry_after = 1
    vendor.inject("429", count=1, path_contains="/search/jql")
    started = time.monotonic()
    outcome = sync(settings, "jira")
    assert time.monotonic() - started >= 1.0
    assert outcome.counts.rate_limit_waits == 1


def test_a_retry_after_longer_than_allowed_fails_fast_as_transient(ctx, sim):
    settings = make_settings(ctx, http_max_wait_seconds=2.0)
    vendor = sim.vendor("freshservice")
    vendor.fault_retry_after = 30
    vendor.inject("429", count=1, path_contains="/api/v2/tickets?")
    started = time.monotonic()
    with pytest.raises(TransientSyncError) as caught:
        sync(settings, "freshservice")
    assert "asks to wait 30 s" in str(caught.value)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("sim", [{"sizes": {**fx.SIZES, "jira": 15}}], indirect=True)  # still several budget windows
def test_pacing_keeps_the_sync_within_its_share_of_the_budget(ctx, sim):
    settings = make_settings(ctx, rate_limit_share=0.5, rate_limit_window_seconds=0.25, sync_page_size=20)
    vendor = sim.vendor("jira")
    vendor.set_rate_limit(12, window_seconds=0.25)
    outcome = sync(settings, "jira", full=True)
    assert outcome.status == "completed"
    assert vendor.request_count(status=429) == 0
    assert outcome.counts.rate_limit_waits > 0
    assert_matches_truth(sim, "jira")
