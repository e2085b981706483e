"""Start, cancel, retry and recover sync runs: PostgreSQL records them, RQ runs them, events announce them."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from tickettracker.core.config import Settings, mask_url
from tickettracker.sync import notifications, runs
from tickettracker.sync.events import publish_run

__all__ = ["publish_run", "start_sync", "cancel_sync", "schedule_retry", "recover", "QueueUnavailable"]
from tickettracker.core.vocabulary import DATA_TYPES, SyncStatus
from tickettracker.store.models import SyncRun
from tickettracker.sync.queues import cancel_job, enqueue_run, job_exists

log = logging.getLogger(__name__)

WORKER_LOST = "The worker running this sync stopped unexpectedly (killed, out of memory or host lost)."


class QueueUnavailable(Exception):
    """Redis (the job queue) cannot be reached; the message says so plainly."""


@dataclass
class StartResult:
    """What a trigger answered."""

    job_id: str
    created: bool
    message: str
    run: SyncRun


def start_sync(redis: Redis, sync_type: str, *, trigger: str = "manual", requested_by: str | None = None,
               full: bool = False, estimate: dict[str, Any] | None = None) -> StartResult:
    """Queue a sync of a type, or return the one already queued or running."""
    _ping(redis)
    result = runs.create_run(sync_type, trigger, requested_by, full=full, estimate=estimate)
    run = result.run
    if not result.created:
        if run.scheduled_for is not None and runs.start_pending_retry_now(run.id):
            _enqueue_or_fail(redis, run.id)
            return StartResult(run.id, False, f"Started the pending {sync_type} retry now", runs.get_run(run.id))
        return StartResult(run.id, False, join_message(run, requested_by), run)
    _enqueue_or_fail(redis, run.id)
    publish_run(redis, run)
    return StartResult(run.id, True, "Sync started in background", run)


def join_message(run: SyncRun, requested_by: str | None) -> str:
    """What someone who asks for a sync hears when one of that type is already on its way: whose, and that they
    will see its result ("alice's sync is already running — you will see its result")."""
    state = "running" if run.status == int(SyncStatus.RUNNING) else "queued"
    if run.trigger == "scheduled" or run.requested_by == "scheduler":
        whose = "The scheduled sync"
    elif run.requested_by and run.requested_by == requested_by:
        whose = "Your sync"
    elif run.requested_by:
        whose = f"{run.requested_by}'s sync"
    else:
        whose = "A sync"
    return f"{whose} is already {state} — you will see its result"


def _enqueue_or_fail(redis: Redis, run_id: str) -> None:
    try:
        enqueue_run(redis, run_id)
    except RedisError as exc:
        runs.finish(run_id, SyncStatus.FAILED, "Could not queue the sync", error=f"Job queue unavailable: {exc}")
        raise QueueUnavailable(_queue_message(redis)) from None


def _ping(redis: Redis) -> None:
    try:
        redis.ping()
    except RedisError:
        raise QueueUnavailable(_queue_message(redis)) from None


def _queue_message(redis: Redis) -> str:
    kwargs = redis.connection_pool.connection_kwargs
    where = mask_url(f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}")
    return f"The job queue (Redis at {where}) is not reachable; syncs cannot start right now. Try again shortly."


def cancel_sync(redis: Redis, run_id: str) -> SyncRun | None:
    """Cancel a queued run now or ask a running one to stop at its next page."""
    run = runs.request_cancel(run_id)
    if run is None:
        return None
    if run.status == int(SyncStatus.CANCELLED):
        try:
            cancel_job(redis, run_id)
        except RedisError as exc:
            log.warning("could not drop RQ job %s: %s", run_id, exc)
    publish_run(redis, run)
    return run


def retry_delay(attempt: int, base_seconds: int) -> timedelta:
    """Return the capped exponential backoff (with jitter) before retry number `attempt`."""
    base = min(base_seconds * 2 ** (attempt - 1), 900)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def schedule_retry(redis: Redis, failed: SyncRun, settings: Settings) -> SyncRun | None:
    """Record another attempt of a run that failed for a transient reason; the scheduler queues it when due."""
    if failed.attempt > settings.sync_max_retries:
        return None
    delay = retry_delay(failed.attempt, settings.sync_retry_base_seconds)
    result = runs.create_run(failed.type, "retry", failed.requested_by, full=failed.full,
                             attempt=failed.attempt + 1, retry_of=failed.id, estimate=failed.estimate,
                             scheduled_for=runs.now_utc() + delay,
                             message=f"Retrying in {int(delay.total_seconds())} s "
                                     f"(attempt {failed.attempt + 1} of {settings.sync_max_retries + 1})")
    if not result.created:
        return None
    publish_run(redis, result.run)
    return result.run


def recover(redis: Redis, settings: Settings) -> list[str]:
    """Fail (and retry) runs whose worker died; queue due retries and runs whose job Redis lost. Return notes."""
    notes = []
    for run in runs.stale_runs(timedelta(seconds=settings.heartbeat_stale_seconds)):
        ended = runs.finish(run.id, SyncStatus.FAILED, "Failed: worker lost", error=WORKER_LOST)
        if ended is None:
            continue
        runs.append_log(run.id, "error", WORKER_LOST)
        publish_run(redis, ended)
        retry = schedule_retry(redis, ended, settings)
        if retry is None and ended.type in DATA_TYPES:
            notifications.safely(notifications.sync_failed, ended)
        notes.append(f"run {run.id} lost its worker" + (f"; retry {retry.id} queued" if retry else ""))
    for run in runs.due_queued_runs(grace=timedelta(seconds=30)):
        if job_exists(redis, run.id):
            continue
        enqueue_run(redis, run.id)
        notes.append(f"run {run.id} ({run.trigger}) put on the queue")
    return notes
