"""Sync runs in PostgreSQL: create one per type at most, record progress, finish, cancel, reap, list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tickettracker.core.vocabulary import ACTIVE_STATUSES, ENDED_STATUSES, SYNC_TYPES, SyncStatus
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncAudit, SyncLog, SyncRun

TRIGGERS = ("manual", "scheduled", "retry")


class UnknownSyncType(ValueError):
    """The sync type is not one of SYNC_TYPES."""


# Every change of what an event shows raises the run's version (events.publish_run drops older versions).
_NEXT_VERSION = {"version": SyncRun.version + 1}


def now_utc() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(timezone.utc)


def new_run_id() -> str:
    """Return a fresh job id (also the RQ job id)."""
    return uuid.uuid4().hex


@dataclass
class TriggerResult:
    """The run a trigger created, or the active one it found."""

    run: SyncRun
    created: bool


def create_run(sync_type: str, trigger: str, requested_by: str | None, *, full: bool = False,
               attempt: int = 1, retry_of: str | None = None, message: str = "Queued",
               scheduled_for: datetime | None = None, estimate: dict[str, Any] | None = None) -> TriggerResult:
    """Insert a Queued run unless one of that type is already queued or running (then return that one); estimate
    is what a full resync was expected to cost (estimate.py)."""
    if sync_type not in SYNC_TYPES:
        raise UnknownSyncType(f"unknown sync type {sync_type!r}; use one of {', '.join(SYNC_TYPES)}")
    for _ in range(5):
        run_id = new_run_id()
        stmt = (pg_insert(SyncRun)
                .values(id=run_id, type=sync_type, trigger=trigger, requested_by=requested_by, full=full,
                        status=int(SyncStatus.QUEUED), progress=0, message=message, attempt=attempt,
                        retry_of=retry_of, scheduled_for=scheduled_for, estimate=estimate)
                .on_conflict_do_nothing(index_elements=["type"], index_where=text("status IN (0, 4)"))
                .returning(SyncRun.id))
        inserted = db.session.execute(stmt).scalar()
        db.session.commit()
        if inserted:
            generations.bump(generations.RUNS)
            return TriggerResult(db.session.get(SyncRun, inserted), True)
        active = active_run(sync_type)
        if active is not None:
            return TriggerResult(active, False)
    raise RuntimeError(f"could not create or find an active {sync_type} run")


def active_run(sync_type: str) -> SyncRun | None:
    """Return the queued or running run of a type, if any."""
    stmt = select(SyncRun).where(SyncRun.type == sync_type, SyncRun.status.in_([int(s) for s in ACTIVE_STATUSES]))
    return db.session.scalars(stmt.execution_options(populate_existing=True)).first()


def get_run(run_id: str) -> SyncRun | None:
    """Return a run by id, fresh from the database."""
    return db.session.scalars(
        select(SyncRun).where(SyncRun.id == run_id).execution_options(populate_existing=True)).first()


def start_pending_retry_now(run_id: str) -> bool:
    """Make a queued retry that waits for its backoff due now; return whether it was waiting."""
    result = db.session.execute(
        update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == int(SyncStatus.QUEUED),
                              SyncRun.scheduled_for > now_utc())
        .values(scheduled_for=now_utc(), message="Queued", **_NEXT_VERSION).returning(SyncRun.id))
    changed = result.scalar()
    db.session.commit()
    return changed is not None


def mark_running(run_id: str) -> SyncRun | None:
    """Move a queued run to Running; return None if it is no longer queued (cancelled meanwhile)."""
    moment = now_utc()
    result = db.session.execute(
        update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == int(SyncStatus.QUEUED))
        .values(status=int(SyncStatus.RUNNING), started_at=moment, heartbeat_at=moment, message="Starting",
                **_NEXT_VERSION)
        .returning(SyncRun.id))
    started = result.scalar()
    db.session.commit()
    if started:
        generations.bump(generations.RUNS)
    return get_run(run_id) if started else None


def record_progress(run_id: str, progress: int | None, message: str, counts: dict[str, int]) -> SyncRun | None:
    """Store progress, message and counts of a running run, and beat its heart."""
    values: dict[str, Any] = {"message": message, "heartbeat_at": now_utc(), **counts, **_NEXT_VERSION}
    if progress is not None:
        values["progress"] = max(0, min(100, int(progress)))
    db.session.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == int(SyncStatus.RUNNING))
                       .values(**values))
    db.session.commit()
    return get_run(run_id)


def heartbeat(run_id: str) -> None:
    """Mark a running run as alive."""
    db.session.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == int(SyncStatus.RUNNING))
                       .values(heartbeat_at=now_utc()))
    db.session.commit()


def finish(run_id: str, status: SyncStatus, message: str, *, error: str | None = None,
           counts: dict[str, int] | None = None, changes: dict[str, int] | None = None) -> SyncRun | None:
    """End an active run with a terminal status (and what it changed, per class); a run already ended is left."""
    values: dict[str, Any] = {"status": int(status), "message": message, "error": error,
                              "finished_at": now_utc(), **(counts or {}), **_NEXT_VERSION}
    if changes is not None:
        values["change_counts"] = changes
    if status == SyncStatus.COMPLETED:
        values["progress"] = 100
    result = db.session.execute(
        update(SyncRun).where(SyncRun.id == run_id, SyncRun.status.in_([int(s) for s in ACTIVE_STATUSES]))
        .values(**values).returning(SyncRun.id))
    changed = result.scalar()
    db.session.commit()
    if changed:
        generations.bump(generations.RUNS)
    return get_run(run_id) if changed else None


def request_cancel(run_id: str) -> SyncRun | None:
    """Cancel a queued run at once, or flag a running run to stop at its next page boundary."""
    run = get_run(run_id)
    if run is None or run.status not in [int(s) for s in ACTIVE_STATUSES]:
        return run
    if run.status == int(SyncStatus.QUEUED):
        return finish(run_id, SyncStatus.CANCELLED, "Cancelled before it started") or get_run(run_id)
    db.session.execute(update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == int(SyncStatus.RUNNING))
                       .values(cancel_requested=True, message="Cancelling…", **_NEXT_VERSION))
    db.session.commit()
    return get_run(run_id)


def cancel_requested(run_id: str) -> bool:
    """Return whether someone asked this run to stop."""
    return bool(db.session.execute(select(SyncRun.cancel_requested).where(SyncRun.id == run_id)).scalar())


def append_log(run_id: str, level: str, message: str, source: str | None = None) -> None:
    """Add one line to a run's log (source: the vendor it concerns, None for the run as a whole)."""
    db.session.add(SyncLog(run_id=run_id, level=level, message=message[:2000], source=source))
    db.session.commit()


def run_log(run_id: str, limit: int = 2000) -> list[SyncLog]:
    """Return a run's log lines, oldest first."""
    return list(db.session.scalars(select(SyncLog).where(SyncLog.run_id == run_id).order_by(SyncLog.id)
                                   .limit(limit)))


def run_audits(run_ids: list[str]) -> dict[str, list[SyncAudit]]:
    """The completeness audits of the given runs, by run id, in the order they ran."""
    if not run_ids:
        return {}
    found: dict[str, list[SyncAudit]] = {}
    for audit in db.session.scalars(select(SyncAudit).where(SyncAudit.run_id.in_(run_ids)).order_by(SyncAudit.id)):
        found.setdefault(audit.run_id or "", []).append(audit)
    return found


def stale_runs(stale_after: timedelta, now: datetime | None = None) -> list[SyncRun]:
    """Return running runs whose heartbeat stopped (their worker died)."""
    limit = (now or now_utc()) - stale_after
    stmt = select(SyncRun).where(SyncRun.status == int(SyncStatus.RUNNING), SyncRun.heartbeat_at < limit)
    return list(db.session.scalars(stmt))


def due_queued_runs(grace: timedelta) -> list[SyncRun]:
    """Return queued runs that should be on the queue by now: due retries and runs queued over `grace` ago."""
    now = now_utc()
    due = or_(SyncRun.scheduled_for <= now, and_(SyncRun.scheduled_for.is_(None), SyncRun.queued_at < now - grace))
    return list(db.session.scalars(select(SyncRun).where(SyncRun.status == int(SyncStatus.QUEUED), due)))


def last_runs() -> dict[str, dict[str, SyncRun | None]]:
    """Return, per type, the active run, the last finished run and the last successful run."""
    out: dict[str, dict[str, SyncRun | None]] = {}
    for sync_type in SYNC_TYPES:
        base = select(SyncRun).where(SyncRun.type == sync_type)
        finished = base.where(SyncRun.status.in_([int(s) for s in ENDED_STATUSES]))
        out[sync_type] = {
            "active": active_run(sync_type),
            "last": db.session.scalars(finished.order_by(SyncRun.finished_at.desc()).limit(1)).first(),
            "last_success": db.session.scalars(
                base.where(SyncRun.status == int(SyncStatus.COMPLETED))
                .order_by(SyncRun.finished_at.desc()).limit(1)).first(),
        }
    return out
