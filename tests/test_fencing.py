"""Fencing: only the current attempt of a sync run may write; a stalled attempt declared lost stops at its next page."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import SyncRun
from tickettracker.sync import jobs, lifecycle, runs
from tickettracker.sync.atrisk import refresh_at_risk
from tickettracker.sync.ingest import StaleAttempt, write_page
from tickettracker.sync.runner import run_sync
from vendorsim.timeutil import fw_format

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, assert_matches_truth, cache_rows, cursor_rows, make_settings, only
from .test_ingest import record

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def running_run(sync_type: str = "Incidents") -> str:
    """A sync run in the Running state, as a worker holds it."""
    run = runs.create_run(sync_type, "manual", "admin").run
    assert runs.mark_running(run.id) is not None
    return run.id


def declare_lost(settings: Any, run_id: str) -> None:
    """What the scheduler does when a run's heartbeat stops: the run fails as lost and a retry is queued.

    The run's row stays locked from the backdated heartbeat to the recovery's verdict, so a worker that is still
    beating (every second in some tests) cannot renew it in between."""
    db.session.execute(text("SELECT id FROM sync_runs WHERE id = :id FOR UPDATE"), {"id": run_id})
    db.session.execute(text("UPDATE sync_runs SET heartbeat_at = now() - interval '1 hour' WHERE id = :id"),
                       {"id": run_id})
    notes = lifecycle.recover(redis_client(), settings)
    db.session.commit()
    assert any(run_id in note and "lost its worker" in note for note in notes), notes


class StallsAfter(Recorder):
    """A reporter whose worker 'stalls' after n pages: meanwhile the run is declared lost."""

    def __init__(self, pages: int, settings: Any, run_id: str) -> None:
        super().__init__()
        self.pages, self.settings, self.run_id = pages, settings, run_id
        self.seen: list[tuple[Any, ...]] = []

    def progress(self, percent: int | None, message: str, counts: Any) -> None:
        super().progress(percent, message, counts)
        if "request" in message and len(self.seen) < 1 and sum("request" in m for _, m in self.events) == self.pages:
            declare_lost(self.settings, self.run_id)
            self.seen.append((len(cache_rows("freshdesk")), cursor_rows()))


def test_a_stalled_attempt_declared_lost_has_its_next_page_rejected_and_stops(ctx, sim):
    settings = make_settings(ctx)
    run_id = running_run()
    reporter = StallsAfter(2, settings, run_id)
    with pytest.raises(StaleAttempt):
        run_sync(only(settings, "freshdesk"), "Incidents", reporter, full=True, run_id=run_id)
    rows, cursors = reporter.seen[0]
    assert 10 < rows == len(cache_rows("freshdesk")) < 60 and cursor_rows() == cursors  # nothing written after
    assert any(level == "warning" and f"no longer owns run {run_id}" in m for level, m in reporter.logs)
    assert runs.get_run(run_id).status == SyncStatus.FAILED
    assert db.session.scalar(db.select(SyncRun.id).where(SyncRun.retry_of == run_id)) is not None


def test_the_fence_waits_for_a_status_change_in_flight_and_then_refuses(ctx, database_url):
    run_id = running_run()
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    outcome: list[Any] = []

    def write() -> None:
        with ctx.app_context():
            try:
                outcome.append(write_page("freshdesk", [record(1)], None, run_id=run_id))
            except StaleAttempt as stale:
                outcome.append(stale)
            finally:
                db.session.remove()

    with psycopg.connect(conninfo) as recovering:  # the scheduler declaring the run lost, not yet committed
        recovering.execute("UPDATE sync_runs SET status = %s WHERE id = %s", (int(SyncStatus.FAILED), run_id))
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive() and not outcome  # the write waits on the run's row
        recovering.commit()
    writer.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], StaleAttempt)
    assert db.session.execute(text("SELECT count(*) FROM tickets")).scalar() == 0


def test_a_worker_that_wakes_after_its_run_was_retried_stops_and_the_retry_completes(ctx, sim, monkeypatch):
    settings = make_settings(ctx, sync_heartbeat_seconds=1, rate_limit_window_seconds=1.0)
    monkeypatch.setitem(ctx.extensions, "tt_settings", settings)
    sim.vendor("jira").set_rate_limit(6, window_seconds=1)  # a slow vendor: about five pages a second
    run_id = runs.create_run("JIRA", "manual", "admin").run.id
    results: list[str] = []

    def work(job_run: str) -> str:
        with jobs.app_session(ctx):  # as the worker runs a job
            return jobs.run_sync_job(job_run)

    worker = threading.Thread(target=lambda: results.append(work(run_id)))
    worker.start()
    deadline = time.monotonic() + 20
    while runs.get_run(run_id).fetched == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        db.session.commit()
    declare_lost(settings, run_id)
    kept = len(cache_rows("jira"))
    worker.join(30)
    assert results and results[0].startswith("stopped: this attempt no longer owns run"), results
    assert len(cache_rows("jira")) == kept < 45
    log = [line.message for line in runs.run_log(run_id)]
    assert any("no longer owns run" in line for line in log)
    retry = db.session.scalar(db.select(SyncRun).where(SyncRun.retry_of == run_id))
    db.session.execute(text("UPDATE sync_runs SET scheduled_for = now() WHERE id = :id"), {"id": retry.id})
    db.session.commit()
    sim.vendor("jira").set_rate_limit(None)
    assert work(retry.id).startswith("Sync completed")
    db.session.expire_all()
    assert_matches_truth(sim, "jira")


def test_an_at_risk_refresh_declared_lost_writes_nothing_more(ctx, sim):
    settings = make_settings(ctx, sla_horizon_minutes=240)
    sim.vendor("freshdesk").edit("5", status=2, due_by=fw_format(datetime.now(timezone.utc) + timedelta(hours=1)))
    run_sync(only(settings, "freshdesk"), "Incidents", Recorder())
    sim.vendor("freshdesk").edit("5", subject="Changed after the run was declared lost")
    run_id = running_run(AT_RISK)
    runs.finish(run_id, SyncStatus.FAILED, "Failed: worker lost")
    with pytest.raises(StaleAttempt):
        refresh_at_risk(settings, Recorder(), run_id)
    assert cache_rows("freshdesk")["5"]["subject"] != "Changed after the run was declared lost"
