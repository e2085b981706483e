"""What each vendor's part of a sync run cost, stored per run and source (sync_run_metrics): requests, credits,
waits, retries and the rate-limit budget the vendor's responses advertised."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, SyncRunMetrics

if TYPE_CHECKING:  # the web reads these figures and must not import the connectors
    from tickettracker.connectors.meter import HttpStats


def record_source(run_id: str, source: str, stats: HttpStats, seconds: float, share: float) -> None:
    """Store (or replace) one source's figures for a run, in a commit of its own."""
    budget = stats.budget
    values = {"pages": stats.pages, "items": stats.items, "requests": stats.requests, "credits": stats.credits,
              "retries": stats.retries, "rate_limit_waits": stats.rate_limit_waits,
              "waited_seconds": round(stats.waited_seconds, 3), "seconds": round(seconds, 3),
              "budget_total": budget.total, "budget_window_seconds": budget.window,
              "remaining_last": budget.remaining, "remaining_min": budget.remaining_min, "share": share,
              "headers": dict(budget.headers)}
    stmt = pg_insert(SyncRunMetrics).values(run_id=run_id, source=source, **values)
    db.session.execute(stmt.on_conflict_do_update(index_elements=["run_id", "source"], set_=values))
    db.session.commit()


def run_metrics(run_id: str) -> list[SyncRunMetrics]:
    """A run's figures, one row per source."""
    rows = list(db.session.scalars(select(SyncRunMetrics).where(SyncRunMetrics.run_id == run_id)
                                   .order_by(SyncRunMetrics.recorded_at)))
    db.session.commit()
    return rows


def latest_by_source() -> dict[str, SyncRunMetrics]:
    """Per source, the newest figures that carry an advertised budget, else the newest figures at all."""
    newest: dict[str, SyncRunMetrics] = {}
    stmt = select(SyncRunMetrics).order_by(SyncRunMetrics.recorded_at.desc()).limit(200)
    for row in db.session.scalars(stmt):
        kept = newest.get(row.source)
        if kept is None or (kept.budget_total is None and row.budget_total is not None):
            newest[row.source] = row
    db.session.commit()
    return newest


def actual_figures(run: SyncRun) -> dict[str, Any]:
    """What a run actually cost, in the estimate's terms: calls, credits, minutes (None before it started)."""
    rows = run_metrics(run.id)
    minutes = None
    if run.started_at is not None and run.finished_at is not None:
        minutes = (run.finished_at - run.started_at).total_seconds() / 60
    return {"calls": sum(r.requests for r in rows) if rows else run.requests,
            "credits": sum(r.credits for r in rows) if rows else None, "minutes": minutes}
