"""Trust stamps: how fresh each source's cached data is, and whether to show it as stale."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on

from tickettracker.core.config import get_settings
from tickettracker.core.vocabulary import ENDED_STATUSES, SYNC_TYPES, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, SyncSchedule


@dataclass(frozen=True)
class Stamp:
    """The freshness of one sync type's data: the last successful run and whether the data is stale."""

    sync_type: str
    interval_minutes: int
    run_id: str | None = None
    as_of: datetime | None = None
    last_failed: bool = False
    stale: bool = True
    reason: str = ""

    @property
    def short_run(self) -> str:
        """Return the first eight characters of the run id, for display."""
        return (self.run_id or "")[:8]

    def as_dict(self) -> dict[str, Any]:
        """Return the stamp as plain values."""
        return asdict(self)


def _latest(statuses: tuple[int, ...]) -> dict[str, SyncRun]:
    ended = func.coalesce(SyncRun.finished_at, SyncRun.queued_at)
    stmt = (select(SyncRun).where(SyncRun.status.in_(statuses))
            .ext(distinct_on(SyncRun.type)).order_by(SyncRun.type, ended.desc()))
    return {run.type: run for run in db.session.scalars(stmt)}


def freshness(now: datetime) -> dict[str, Stamp]:
    """Return a stamp per sync type: last successful run, schedule interval, staleness and why."""
    successes = _latest((int(SyncStatus.COMPLETED),))
    last_ended = _latest(tuple(int(s) for s in ENDED_STATUSES))
    intervals = {row.type: row.interval_minutes for row in db.session.scalars(select(SyncSchedule))}
    settings = get_settings()
    return {sync_type: judge(sync_type, intervals.get(sync_type, settings.sync_interval(sync_type)),
                             successes.get(sync_type), last_ended.get(sync_type), now)
            for sync_type in SYNC_TYPES}


def judge(sync_type: str, interval: int, success: SyncRun | None, last: SyncRun | None, now: datetime) -> Stamp:
    """Decide whether a type's data is stale: no success, last run failed, or older than twice the interval."""
    failed = last is not None and last.status == int(SyncStatus.FAILED)
    as_of = success.finished_at if success is not None else None
    if as_of is None:
        reason = "No successful sync yet."
    elif failed:
        reason = "The last sync failed; the numbers are from the sync before it."
    elif interval > 0 and now - as_of > timedelta(minutes=2 * interval):
        reason = f"The last successful sync is older than twice the {interval}-minute schedule."
    else:
        reason = ""
    return Stamp(sync_type, interval, success.id if success is not None else None, as_of, failed, bool(reason),
                 reason)
