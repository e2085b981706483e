"""RQ job functions (thin, importable, given ids only) and AppWorker, the RQ worker that runs every one of them
inside its app's context on a database session of their own. The worker process provides the app, once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, has_app_context
from rq import Queue, Worker
from rq.job import Job

from tickettracker.connectors.base import ConfigurationError, TransientSyncError
from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.sync import lifecycle, notifications, runs
from tickettracker.sync.atrisk import refresh_at_risk
from tickettracker.sync.changes import change_counts
from tickettracker.sync.ingest import StaleAttempt
from tickettracker.sync.runner import run_sync
from tickettracker.sync.typelock import type_lock

log = logging.getLogger(__name__)

# app.extensions key: callables run with the run id after every completed sync (the factory registers them)
AFTER_SYNC_HOOKS = "tt_after_sync"


@contextmanager
def app_session(app: Flask) -> Iterator[None]:
    """Run a block inside the app's context and end its database session afterwards, whatever happens."""
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()


class AppWorker(Worker):
    """An RQ worker that performs every job inside its app's context, with connections of the job's own."""

    def __init__(self, *args: Any, app: Flask | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, job: Job, queue: Queue) -> bool:
        """Perform one job (in the forked work horse) in the app's context, on database connections of its own."""
        if self.app is None:
            raise RuntimeError("an AppWorker needs the app: AppWorker(queues, app=app, ...)")
        with app_session(self.app):
            db.engine.dispose(close=False)  # the pool came with the fork: leave the parent's connections alone
            return super().perform_job(job, queue)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """End the job's session as soon as its function returned or raised, before RQ's own bookkeeping."""
        db.session.remove()  # no transaction (and no table lock) stays open while RQ records the result
        super().handle_execution_ended(job, queue, heartbeat_ttl)


def _worker_app() -> Flask:
    """Return the app the worker runs this job in; jobs never build one themselves."""
    if not has_app_context():
        raise RuntimeError("sync jobs run in the Ticket Tracker worker (python worker.py), which provides the app")
    return current_app._get_current_object()


class RunReporter:
    """Reports a sync's progress to its sync-runs row, its log and the event stream."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.redis = redis_client()

    def progress(self, percent: int | None, message: str, counts: Any) -> None:
        """Store and announce progress."""
        run = runs.record_progress(self.run_id, percent, message, _count_fields(counts))
        if run is not None:
            lifecycle.publish_run(self.redis, run, indeterminate=percent is None)

    def log(self, level: str, message: str, source: str | None = None) -> None:
        """Append a line to the run's log."""
        runs.append_log(self.run_id, level, message, source)

    def cancelled(self) -> bool:
        """Return whether a cancel was requested."""
        return runs.cancel_requested(self.run_id)


def _count_fields(counts: Any) -> dict[str, int]:
    names = ("fetched", "created", "updated", "deleted", "requests", "rate_limit_waits")
    return {name: int(getattr(counts, name, 0) or 0) for name in names}


class _Heartbeat(threading.Thread):
    """Beats a running run's heart while the sync waits on slow vendors."""

    def __init__(self, app: Flask, run_id: str) -> None:
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.app, self.run_id, self.stopped = app, run_id, threading.Event()

    def run(self) -> None:
        interval = self.app.extensions["tt_settings"].sync_heartbeat_seconds
        while not self.stopped.wait(interval):
            try:
                with app_session(self.app):
                    runs.heartbeat(self.run_id)
            except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the sync
                log.warning("heartbeat for %s failed: %s", self.run_id, exc)


def run_sync_job(run_id: str) -> str:
    """Run one queued sync run to its end: Completed, Failed or Cancelled."""
    return _execute(_worker_app(), run_id)


def _execute(app: Flask, run_id: str) -> str:
    settings = app.extensions["tt_settings"]
    redis = redis_client()
    run = runs.mark_running(run_id)
    if run is None:
        return "skipped: the run is no longer queued"
    lifecycle.publish_run(redis, run)
    runs.append_log(run_id, "info", f"{run.type} sync started ({run.trigger}, attempt {run.attempt})")
    beat = _Heartbeat(app, run_id)
    beat.start()
    try:
        outcome = _run(settings, run.type, run_id, run.full)
    except StaleAttempt as exc:  # the run was declared lost and handed to a retry: this attempt just stops
        db.session.rollback()
        log.warning("sync run %s: %s", run_id, exc)
        return f"stopped: {exc}"
    except ConfigurationError as exc:
        return _fail(redis, run_id, str(exc), retry=False, settings=settings)
    except Exception as exc:  # noqa: BLE001 - every other failure is treated as transient
        log.exception("sync run %s failed", run_id)
        # the next at-risk refresh is minutes away: retrying one is never worth it
        return _fail(redis, run_id, _transient_message(exc), retry=run.type != AT_RISK, settings=settings)
    finally:
        beat.stopped.set()
    counts = _count_fields(outcome.counts)
    status = SyncStatus.CANCELLED if outcome.status == "cancelled" else SyncStatus.COMPLETED
    changes = change_counts(run_id) if run.type != AT_RISK else None
    ended = runs.finish(run_id, status, outcome.message, counts=counts, changes=changes)
    if ended is not None:
        runs.append_log(run_id, "info", outcome.message)
        lifecycle.publish_run(redis, ended)
        if status == SyncStatus.COMPLETED and run.type != AT_RISK:
            _after_success(app, run_id)
            notifications.safely(notifications.sync_completed, ended)
    return outcome.message


def _run(settings: Any, sync_type: str, run_id: str, full: bool) -> Any:
    """Run a full sync under its type's lock, or the at-risk refresh (which takes the locks it needs itself)."""
    if sync_type == AT_RISK:
        return refresh_at_risk(settings, RunReporter(run_id), run_id)
    with type_lock(sync_type):
        return run_sync(settings, sync_type, RunReporter(run_id), full=full, run_id=run_id)


def _transient_message(exc: Exception) -> str:
    if isinstance(exc, TransientSyncError):
        return str(exc)
    return f"Unexpected error: {exc.__class__.__name__}. The run will be retried; see the log for details."


def _fail(redis: Any, run_id: str, reason: str, *, retry: bool, settings: Any) -> str:
    db.session.rollback()
    reason = settings.vendors.redactor()(reason)  # run logs and messages are shown to every viewer
    ended = runs.finish(run_id, SyncStatus.FAILED, f"Failed: {reason}", error=reason)
    runs.append_log(run_id, "error", reason)
    if ended is not None:
        lifecycle.publish_run(redis, ended)
        retried = lifecycle.schedule_retry(redis, ended, settings) if retry else None
        if retried is None and ended.type != AT_RISK:  # no retry left: this failure is final
            notifications.safely(notifications.sync_failed, ended)
    return f"failed: {reason}"


def _after_success(app: Flask, run_id: str) -> None:
    """Run the app's after-sync hooks (the cockpit's KPI snapshot); a failing hook never fails the sync."""
    for hook in app.extensions.get(AFTER_SYNC_HOOKS, ()):
        try:
            hook(run_id)
        except Exception as exc:  # noqa: BLE001 - a hook failure must not fail the sync
            db.session.rollback()
            log.warning("after-sync hook %s for %s failed: %s", getattr(hook, "__name__", hook), run_id, exc)


def scheduled_trigger(sync_type: str) -> str:
    """Start a scheduled sync of a type (one per type still holds)."""
    _worker_app()
    result = lifecycle.start_sync(redis_client(), sync_type, trigger="scheduled", requested_by="scheduler")
    return f"{result.job_id}: {result.message}"
