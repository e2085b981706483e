"""Trust stamps: how fresh each source's cached data is, whether to show it as stale, and whether the last
completeness audit proved it complete ("complete as of 14:05 — 12,340 of 12,340")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on

from tickettracker.core.config import get_settings
from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import DATA_TYPES, ENDED_STATUSES, SYNC_TYPES, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncAudit, SyncRun, SyncSchedule

SOURCE_LABELS = {"freshservice": "Freshservice", "freshdesk": "Freshdesk", "jira": "Jira"}


@dataclass(frozen=True)
class Completeness:
    """The last completeness audit of one source: what it proved, and when a difference will be repaired."""

    source: str
    status: str  # complete | differs | failed
    at: datetime
    cache_count: int | None
    vendor_count: int | None
    repaired: int
    next_check: datetime | None  # the next scheduled sync, which audits again (None: schedule off)
    message: str = ""

    @property
    def label(self) -> str:
        """The source's name."""
        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def difference(self) -> int | None:
        """How many more (positive) or fewer items the vendor shows than the cache; None when not counted."""
        if self.cache_count is None or self.vendor_count is None:
            return None
        return self.vendor_count - self.cache_count

    def as_dict(self) -> dict[str, Any]:
        """Plain values, with the times in UTC ISO 8601."""
        return {"source": self.source, "status": self.status, "at": iso_utc(self.at),
                "cache_count": self.cache_count, "vendor_count": self.vendor_count, "repaired": self.repaired,
                "next_check": iso_utc(self.next_check), "message": self.message}


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
    completeness: tuple[Completeness, ...] = ()

    @property
    def short_run(self) -> str:
        """Return the first eight characters of the run id, for display."""
        return (self.run_id or "")[:8]

    def as_dict(self) -> dict[str, Any]:
        """Return the stamp as plain values."""
        values = asdict(self)
        values["completeness"] = [line.as_dict() for line in self.completeness]
        return values


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
    stamps = {sync_type: judge(sync_type, intervals.get(sync_type, settings.sync_interval(sync_type)),
                               successes.get(sync_type), last_ended.get(sync_type), now)
              for sync_type in SYNC_TYPES}
    audits = latest_audits()
    for sync_type in DATA_TYPES:
        stamp = stamps[sync_type]
        lines = tuple(_completeness(audits[source], stamp.interval_minutes)
                      for source in SYNC_TYPES[sync_type] if source in audits)
        stamps[sync_type] = replace(stamp, completeness=lines)
    return stamps


def latest_audits() -> dict[str, SyncAudit]:
    """The newest completeness audit of each source."""
    stmt = select(SyncAudit).ext(distinct_on(SyncAudit.source)).order_by(SyncAudit.source, SyncAudit.at.desc(),
                                                                         SyncAudit.id.desc())
    return {audit.source: audit for audit in db.session.scalars(stmt)}


def _completeness(audit: SyncAudit, interval: int) -> Completeness:
    """What a stamp says about one source's last audit."""
    next_check = audit.at + timedelta(minutes=interval) if interval > 0 else None
    return Completeness(audit.source, audit.status, audit.at, audit.cache_count, audit.vendor_count, audit.repaired,
                        next_check, audit.message)


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
