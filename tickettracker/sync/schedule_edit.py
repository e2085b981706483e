"""Read and change the sync_schedules rows (the scheduler re-reads the table every few seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tickettracker.core.config import Settings
from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import AT_RISK, SYNC_TYPES
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncSchedule
from tickettracker.store.serialize import run_json, schedule_json
from tickettracker.sync import runs
from tickettracker.sync.schedule import default_row

INTERVAL_MIN = 5
INTERVAL_MAX = 10080
AT_RISK_INTERVAL = (1, 60)
HORIZON = (15, 10080)
TRUE_VALUES = ("1", "true", "yes", "on")


class UnknownScheduleType(LookupError):
    """The schedule's sync type is not one of SYNC_TYPES."""


@dataclass(frozen=True)
class ScheduleChange:
    """A validated schedule: how often (minutes), whether it runs at all, and the at-risk horizon (minutes)."""

    interval_minutes: int
    enabled: bool
    horizon_minutes: int | None = None


def check_type(sync_type: str) -> str:
    """Return the sync type or raise UnknownScheduleType."""
    if sync_type not in SYNC_TYPES:
        raise UnknownScheduleType(f"unknown sync type {sync_type!r}; use one of {', '.join(SYNC_TYPES)}")
    return sync_type


def parse_interval(raw: Any, low: int = INTERVAL_MIN, high: int = INTERVAL_MAX,
                   what: str = "interval") -> tuple[int | None, str | None]:
    """Return (minutes, None) for a valid number of minutes or (None, message) explaining what is wrong."""
    week = " (one week)" if high == INTERVAL_MAX else ""
    hint = f"Enter a whole number of minutes from {low} to {high}{week}."
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, f"The {what} is required. {hint}"
    if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
        return None, f"The {what} must be a whole number. {hint}"
    try:
        minutes = int(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        return None, f"“{str(raw)[:40]}” is not a number. {hint}"
    if not low <= minutes <= high:
        return None, f"{minutes} minutes is out of range. {hint}"
    return minutes, None


def parse_enabled(raw: Any) -> bool:
    """Interpret a checkbox or JSON value as on/off (absent means off, as HTML forms send it)."""
    if isinstance(raw, bool):
        return raw
    return str(raw or "").strip().lower() in TRUE_VALUES


def validate(data: Mapping[str, Any], interval_key: str, enabled_key: str,
             horizon_key: str | None = None) -> tuple[ScheduleChange | None, dict[str, str]]:
    """Validate submitted values (the at-risk refresh: a short cadence and a horizon); return the change or errors."""
    if horizon_key is None:
        minutes, error = parse_interval(data.get(interval_key))
        if error:
            return None, {interval_key: error}
        return ScheduleChange(int(minutes or 0), parse_enabled(data.get(enabled_key))), {}
    minutes, error = parse_interval(data.get(interval_key), *AT_RISK_INTERVAL, "cadence")
    horizon, wrong = parse_interval(data.get(horizon_key), *HORIZON, "horizon")
    errors = {key: text for key, text in ((interval_key, error), (horizon_key, wrong)) if text}
    if errors:
        return None, errors
    return ScheduleChange(int(minutes or 0), parse_enabled(data.get(enabled_key)), horizon), {}


def save(sync_type: str, change: ScheduleChange, actor: str | None) -> SyncSchedule:
    """Write the schedule row of a type (creating it if needed) and return it."""
    check_type(sync_type)
    values = {"interval_minutes": change.interval_minutes, "enabled": change.enabled,
              "updated_at": runs.now_utc(), "updated_by": actor}
    if sync_type == AT_RISK:
        values.update(interval_seconds=None, horizon_minutes=change.horizon_minutes)
    stmt = pg_insert(SyncSchedule).values(type=sync_type, **values)
    db.session.execute(stmt.on_conflict_do_update(index_elements=["type"], set_=values))
    db.session.commit()
    generations.bump(generations.RUNS)  # the dashboard judges staleness by the schedule's interval
    return db.session.scalars(select(SyncSchedule).where(SyncSchedule.type == sync_type)
                              .execution_options(populate_existing=True)).one()


def overview(settings: Settings, next_runs: Mapping[str, datetime | None]) -> list[dict[str, Any]]:
    """Return per type: interval, on/off, who changed it, the last finished run and the next run."""
    rows = {r.type: r for r in db.session.scalars(select(SyncSchedule))}
    last = runs.last_runs()
    out = []
    for sync_type in SYNC_TYPES:
        row = rows.get(sync_type) or default_row(settings, sync_type)
        finished = last[sync_type]["last"]
        out.append(schedule_json(row, saved=sync_type in rows, lastRun=run_json(finished) if finished else None,
                                 nextRunAt=iso_utc(next_runs.get(sync_type)) if row.enabled else None))
    return out
