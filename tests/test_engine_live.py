"""The sync engine end to end: real RQ worker processes, the scheduler process, the simulator, PostgreSQL."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from tests.live import wait_until
from tests.simulator_fixtures import truth_by_cache_id
from tickettracker.core.vocabulary import ENDED_STATUSES, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, Ticket
from tickettracker.sync import runs
from vendorsim import VendorSimulator

pytestmark = pytest.mark.slow


@pytest.fixture()
def simulator():
    """A small simulator; tests slow it down with rate limits where they need a long sync."""
    sim = VendorSimulator(seed=7, sizes={"freshservice": 120, "freshdesk": 120, "jira": 150}).start()
    yield sim
    sim.stop()


def _run(app, job_id: str) -> SyncRun:
    with app.app_context():
        run = runs.get_run(job_id)
        db.session.remove()
        return run


def _wait_terminal(app, job_id: str, timeout: float = 60) -> SyncRun:
    return wait_until(lambda: (r := _run(app, job_id)) and r.status in ENDED_STATUSES and r, timeout=timeout,
                      what=f"run {job_id} to end")


def _cache_keys(app, source: str) -> set[str]:
    with app.app_context():
        keys = set(db.session.scalars(db.select(Ticket.external_id).where(
            Ticket.source == source, Ticket.is_deleted.is_(False), Ticket.is_spam.is_(False))))
        db.session.remove()
        return keys


def _start_stack(processes, sim, workers: int = 2, scheduler: bool = False) -> str:
    processes.env.update(sim.settings_env())
    processes.env["SYNC_PAGE_SIZE"] = "10"
    processes.env["SYNC_RETRY_BASE_SECONDS"] = "1"
    processes.env["SYNC_HEARTBEAT_SECONDS"] = "2"
    processes.env["RATE_LIMIT_WINDOW_SECONDS"] = "2"  # the simulator's shortened rate-limit window
    processes.start_worker(processes=workers)
    if scheduler:
        processes.start("scheduler", [sys.executable, "-m", "tickettracker.runtime.scheduler", "--interval", "1"])
    return processes.start_web()


def test_two_types_run_at_once_and_fill_the_cache(app, processes, simulator):
    simulator.vendor("jira").set_rate_limit(40, window_seconds=2)
    base = _start_stack(processes, simulator)
    http = processes.admin_session(base)
    started = time.monotonic()
    incidents = http.post(f"{base}/api/governance/sync", timeout=10)
    jira = http.post(f"{base}/api/jira/sync", timeout=10)
    assert time.monotonic() - started < 2.0
    assert incidents.status_code == jira.status_code == 202
    first, second = incidents.json()["jobId"], jira.json()["jobId"]
    wait_until(lambda: all(_run(app, j).status == SyncStatus.RUNNING for j in (first, second))
               or all(_run(app, j).status in (SyncStatus.RUNNING, SyncStatus.COMPLETED) for j in (first, second))
               and _both_overlapped(app, first, second),
               timeout=30, what="both types running")
    for job_id in (first, second):
        run = _wait_terminal(app, job_id)
        assert run.status == SyncStatus.COMPLETED, run.error
    for source in ("freshservice", "freshdesk", "jira"):
        assert _cache_keys(app, source) == set(truth_by_cache_id(simulator.vendor(source), source))
    status = http.get(f"{base}/api/sync/status", timeout=10).json()["types"]
    assert status["JIRA"]["last"]["jobId"] == second and status["JIRA"]["status"] == SyncStatus.IDLE


def _both_overlapped(app, first: str, second: str) -> bool:
    a, b = _run(app, first), _run(app, second)
    if not (a.started_at and b.started_at):
        return False
    a_end, b_end = a.finished_at or runs.now_utc(), b.finished_at or runs.now_utc()
    return a.started_at < b_end and b.started_at < a_end


def test_cancel_mid_sync_stops_within_a_page_and_keeps_committed_pages(app, processes, simulator):
    simulator.vendor("jira").set_rate_limit(20, window_seconds=2)
    base = _start_stack(processes, simulator)
    http = processes.admin_session(base)
    job_id = http.post(f"{base}/api/jira/sync", timeout=10).json()["jobId"]
    wait_until(lambda: _run(app, job_id).fetched > 0, timeout=30, what="first page committed")
    assert http.post(f"{base}/api/sync/jobs/{job_id}/cancel", timeout=10).status_code == 202
    run = _wait_terminal(app, job_id, timeout=30)
    assert run.status == SyncStatus.CANCELLED
    kept = _cache_keys(app, "jira")
    assert 0 < len(kept) < len(simulator.vendor("jira").truth())
    time.sleep(3)
    with app.app_context():
        assert db.session.query(SyncRun).filter_by(type="JIRA").count() == 1  # never retried
        db.session.remove()


@pytest.mark.parametrize("after_pages", [1, 3])
def test_kill_9_of_the_worker_mid_sync_is_recovered(app, processes, simulator, after_pages):
    simulator.vendor("jira").set_rate_limit(30, window_seconds=2)
    base = _start_stack(processes, simulator, scheduler=True)
    http = processes.admin_session(base)
    job_id = http.post(f"{base}/api/jira/sync", timeout=10).json()["jobId"]
    wait_until(lambda: _run(app, job_id).fetched >= after_pages * 10, timeout=60, what="pages committed")
    processes.kill("worker", signal.SIGKILL)
    killed_at = time.monotonic()
    lost = wait_until(lambda: (r := _run(app, job_id)).status != SyncStatus.RUNNING and r, timeout=75,
                      what="the killed run to leave Running")
    assert time.monotonic() - killed_at < 2 * 4.5 + 5  # heartbeat 2 s in this test; 10 s (45 s) by default
    assert lost.status == SyncStatus.FAILED and "worker" in lost.error
    processes.start_worker(name="worker2")
    retry = wait_until(lambda: _retry_of(app, job_id), timeout=30, what="the retry run")
    done = _wait_terminal(app, retry.id, timeout=180)
    assert done.status == SyncStatus.COMPLETED, done.error
    assert _cache_keys(app, "jira") == set(truth_by_cache_id(simulator.vendor("jira"), "jira"))


def _retry_of(app, job_id: str) -> SyncRun | None:
    with app.app_context():
        found = db.session.scalars(db.select(SyncRun).where(SyncRun.retry_of == job_id)).first()
        db.session.remove()
        return found


def test_configuration_error_fails_clearly_and_is_not_retried(app, processes, simulator):
    simulator.vendor("jira").set_bad_token(True)
    base = _start_stack(processes, simulator)
    http = processes.admin_session(base)
    job_id = http.post(f"{base}/api/jira/sync", timeout=10).json()["jobId"]
    run = _wait_terminal(app, job_id)
    assert run.status == SyncStatus.FAILED and "JIRA_API_TOKEN" in run.error
    time.sleep(2)
    assert _retry_of(app, job_id) is None
    log = http.get(f"{base}/api/sync/jobs/{job_id}/log", timeout=10).json()["lines"]
    assert any("JIRA_API_TOKEN" in line["message"] for line in log)
    assert simulator.credentials["jira"]["api_token"] not in str(log)


def test_transient_vendor_failure_is_retried_with_attempts_recorded(app, processes, simulator):
    simulator.vendor("jira").inject("503", count=3)
    processes.env.update({"HTTP_MAX_RETRIES": "1", "HTTP_BACKOFF_SECONDS": "0.05", "HTTP_BACKOFF_MAX_SECONDS": "0.1"})
    base = _start_stack(processes, simulator, scheduler=True)
    http = processes.admin_session(base)
    job_id = http.post(f"{base}/api/jira/sync", timeout=10).json()["jobId"]
    first = _wait_terminal(app, job_id)
    assert first.status == SyncStatus.FAILED and "503" in first.error, first.error
    retry = wait_until(lambda: _retry_of(app, job_id), timeout=30, what="the automatic retry")
    done = _wait_terminal(app, retry.id)
    assert done.status == SyncStatus.COMPLETED and done.attempt == 2 and done.trigger == "retry"
    assert _cache_keys(app, "jira") == set(truth_by_cache_id(simulator.vendor("jira"), "jira"))
