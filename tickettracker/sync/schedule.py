"""Periodic syncs per type, kept in rq-scheduler under stable ids and reconciled with the sync_schedules table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq_scheduler import Scheduler
from sqlalchemy import select

from tickettracker.core.config import Settings
from tickettracker.core.vocabulary import AT_RISK, SYNC_TYPES
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncSchedule
from tickettracker.sync.queues import CONTROL_QUEUE

TRIGGER_FUNC = "tickettracker.sync.jobs.scheduled_trigger"


def schedule_id(sync_type: str) -> str:
    """Return the stable rq-scheduler id of a type's schedule."""
    return f"schedule-{sync_type.lower()}"


@dataclass(frozen=True)
class ScheduleSpec:
    """The wanted schedule of one sync type."""

    sync_type: str
    interval_minutes: int
    enabled: bool
    interval_seconds: int | None = None  # the at-risk refresh may run more often than once a minute

    @property
    def every_seconds(self) -> int:
        """Return the period in seconds."""
        return self.interval_seconds or self.interval_minutes * 60

    @property
    def job_id(self) -> str:
        """Return the stable rq-scheduler id of this schedule."""
        return schedule_id(self.sync_type)

    @property
    def version(self) -> str:
        """Return a fingerprint that changes whenever the schedule must be re-registered (the job path too)."""
        return f"{self.every_seconds}s:{int(self.enabled)}:{TRIGGER_FUNC}"


def default_row(settings: Settings, sync_type: str) -> SyncSchedule:
    """A schedule row with the settings' defaults (the at-risk refresh also gets its seconds and horizon)."""
    minutes = settings.sync_interval(sync_type)
    row = SyncSchedule(type=sync_type, interval_minutes=minutes or 60, enabled=minutes > 0)
    if sync_type == AT_RISK:
        seconds = settings.sla_refresh_seconds
        row.interval_seconds = None if seconds % 60 == 0 else seconds
        row.horizon_minutes = settings.sla_horizon_minutes
    return row


def ensure_schedule_rows(settings: Settings) -> None:
    """Create a sync_schedules row per type from the settings' defaults where none exists."""
    existing = set(db.session.scalars(select(SyncSchedule.type)))
    for sync_type in SYNC_TYPES:
        if sync_type not in existing:
            db.session.add(default_row(settings, sync_type))
    db.session.commit()


def wanted_schedules() -> list[ScheduleSpec]:
    """Return the schedules as the database says they should be."""
    rows = db.session.scalars(select(SyncSchedule).order_by(SyncSchedule.type))
    return [ScheduleSpec(r.type, r.interval_minutes, r.enabled and r.interval_minutes > 0, r.interval_seconds)
            for r in rows]


def scheduler_for(redis: Redis) -> Scheduler:
    """Return an rq-scheduler on the control queue."""
    return Scheduler(queue_name=CONTROL_QUEUE, connection=redis, interval=5)


def reconcile(scheduler: Scheduler, specs: list[ScheduleSpec]) -> dict[str, str]:
    """Make rq-scheduler hold exactly one entry per enabled type; return what happened per type."""
    outcome = {}
    for spec in specs:
        current = _registered_version(scheduler, spec.job_id)
        if spec.enabled and current == spec.version:
            outcome[spec.sync_type] = "kept"
            continue
        if current is not None:
            scheduler.cancel(spec.job_id)
        if not spec.enabled:
            outcome[spec.sync_type] = "off"
            continue
        first = datetime.now(timezone.utc) + timedelta(seconds=spec.every_seconds)
        scheduler.schedule(scheduled_time=first, func=TRIGGER_FUNC, args=[spec.sync_type],
                           interval=spec.every_seconds, repeat=None, id=spec.job_id,
                           queue_name=CONTROL_QUEUE, timeout=120, result_ttl=3600,
                           meta={"schedule_version": spec.version})
        outcome[spec.sync_type] = "scheduled"
    return outcome


def _registered_version(scheduler: Scheduler, job_id: str) -> str | None:
    if job_id not in scheduler:
        return None
    try:
        job = Job.fetch(job_id, connection=scheduler.connection)
    except NoSuchJobError:
        return None
    return job.meta.get("schedule_version", "")


def next_runs(redis: Redis) -> dict[str, datetime | None]:
    """Return the next scheduled run time per type (None when off)."""
    out: dict[str, datetime | None] = {}
    for sync_type in SYNC_TYPES:
        score = redis.zscore(Scheduler.scheduled_jobs_key, schedule_id(sync_type))
        out[sync_type] = datetime.fromtimestamp(score, timezone.utc) if score is not None else None
    return out


def scheduled_ids(redis: Redis) -> list[str]:
    """Return every id rq-scheduler holds (for checks that nothing is duplicated)."""
    return [raw.decode() for raw in redis.zrange(Scheduler.scheduled_jobs_key, 0, -1)]
