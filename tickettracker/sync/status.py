"""Read side of sync runs: status per type, one run, history pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import literal, select, tuple_

from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import SYNC_TYPES, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun
from tickettracker.store.queries import BadQuery, decode_cursor, encode_cursor
from tickettracker.store.serialize import run_json
from tickettracker.sync import runs

STATUS_NAMES = {s.slug: int(s) for s in SyncStatus}


def type_status(next_runs: Mapping[str, datetime | None]) -> dict[str, dict[str, Any]]:
    """Return what a page needs on load: per type, the active run, the last result and the next run."""
    out = {}
    for sync_type, found in runs.last_runs().items():
        active, last, success = found["active"], found["last"], found["last_success"]
        out[sync_type] = {
            "type": sync_type,
            "status": active.status if active else int(SyncStatus.IDLE),
            "active": run_json(active) if active else None,
            "last": run_json(last) if last else None,
            "lastSuccessAt": iso_utc(success.finished_at) if success else None,
            "nextRunAt": iso_utc(next_runs.get(sync_type)),
        }
    return out


@dataclass(frozen=True)
class HistoryQuery:
    """Filters and position of a history page."""

    sync_type: str | None = None
    status: int | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> HistoryQuery:
        """Parse request arguments or raise BadQuery naming the bad one."""
        sync_type = args.get("type") or None
        if sync_type and sync_type not in SYNC_TYPES:
            raise BadQuery(f"type must be one of {', '.join(SYNC_TYPES)}")
        status = args.get("status") or None
        if status and status.lower() not in STATUS_NAMES:
            raise BadQuery(f"status must be one of {', '.join(STATUS_NAMES)}")
        trigger = args.get("trigger") or None
        if trigger and trigger not in runs.TRIGGERS:
            raise BadQuery(f"trigger must be one of {', '.join(runs.TRIGGERS)}")
        try:
            limit = min(max(int(args.get("limit") or 50), 1), 200)
        except ValueError:
            raise BadQuery("limit must be a whole number") from None
        return cls(sync_type, STATUS_NAMES[status.lower()] if status else None, trigger,
                   _date(args, "from"), _date(args, "to"), args.get("cursor") or None, limit)

    def params(self) -> dict[str, str]:
        """Return the URL parameters of the filters (without cursor)."""
        names = {v: k for k, v in STATUS_NAMES.items()}
        out = {"type": self.sync_type, "status": names.get(self.status) if self.status is not None else None,
               "trigger": self.trigger, "from": self.since.date().isoformat() if self.since else None,
               "to": self.until.date().isoformat() if self.until else None}
        return {k: v for k, v in out.items() if v}


def _date(args: Mapping[str, str], name: str) -> datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a date like 2026-11-29") from None
    return value if value.tzinfo else value.replace(tzinfo=runs.now_utc().tzinfo)


def history_page(query: HistoryQuery) -> tuple[list[SyncRun], str | None]:
    """Return one page of runs, newest first, and the cursor of the next page."""
    stmt = select(SyncRun)
    if query.sync_type:
        stmt = stmt.where(SyncRun.type == query.sync_type)
    if query.status is not None:
        stmt = stmt.where(SyncRun.status == query.status)
    if query.trigger:
        stmt = stmt.where(SyncRun.trigger == query.trigger)
    if query.since:
        stmt = stmt.where(SyncRun.queued_at >= query.since)
    if query.until:
        stmt = stmt.where(SyncRun.queued_at < query.until)
    if query.cursor:
        value, run_id = decode_cursor(query.cursor, "time", "str")
        stmt = stmt.where(tuple_(SyncRun.queued_at, SyncRun.id) < tuple_(literal(value), literal(run_id)))
    rows = list(db.session.scalars(stmt.order_by(SyncRun.queued_at.desc(), SyncRun.id.desc())
                                   .limit(query.limit + 1)))
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, encode_cursor(rows[-1].queued_at, rows[-1].id)
