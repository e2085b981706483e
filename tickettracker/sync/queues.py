"""The RQ queues: `control` for quick scheduled triggers, `sync` for the sync runs themselves."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job

CONTROL_QUEUE = "control"
SYNC_QUEUE = "sync"
QUEUE_NAMES = (CONTROL_QUEUE, SYNC_QUEUE)
SYNC_JOB = "tickettracker.sync.jobs.run_sync_job"
JOB_TIMEOUT = 6 * 3600
FAILURE_TTL = 7 * 24 * 3600


def queue(redis: Redis, name: str = SYNC_QUEUE) -> Queue:
    """Return an RQ queue on the given connection."""
    return Queue(name, connection=redis)


def enqueue_run(redis: Redis, run_id: str) -> Job:
    """Put a sync run on the sync queue; the RQ job id is the run id."""
    return queue(redis).enqueue(SYNC_JOB, run_id, job_id=run_id, job_timeout=JOB_TIMEOUT, result_ttl=3600,
                                failure_ttl=FAILURE_TTL, description=f"sync run {run_id}")


def job_exists(redis: Redis, run_id: str) -> bool:
    """Return whether RQ still knows the job of a run."""
    return Job.exists(run_id, connection=redis)


def cancel_job(redis: Redis, run_id: str) -> None:
    """Drop a queued job from RQ (the run row is the source of truth; this only saves a wake-up)."""
    if not job_exists(redis, run_id):
        return
    job = Job.fetch(run_id, connection=redis)
    if job.get_status(refresh=True) in ("queued", "scheduled", "deferred"):
        job.cancel()
        job.delete()
