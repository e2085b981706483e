"""KPI snapshots: the headline numbers stored daily and after each successful sync, read back as trends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import distinct_on

from tickettracker.cockpit.incidents import incident_backlog
from tickettracker.cockpit.jira import jira_status_by_project, jira_wip
from tickettracker.cockpit.scope import FW_SOURCES, CockpitFilters, day_bounds
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import KpiSnapshot

DAILY_LOCK = 7_310_001  # pg advisory lock key: one daily snapshot per day even with two schedulers
TREND_DAYS = 30
TREND_KEYS = {"incidents": ("open", "overdue"), "jira": ("open", "stuck")}


def headline_numbers(now: datetime) -> dict[str, Any]:
    """Return the unfiltered headline numbers, overall and per source."""
    everything = CockpitFilters()
    backlog = incident_backlog(everything, now)
    status = jira_status_by_project(everything, now)["totals"]
    jira = {"open": status["open"], "todo": status["todo"], "in_progress": status["in_progress"],
            "stuck": status["stuck"], "wip": jira_wip(everything, now)["count"]}
    by_source: dict[str, Any] = {row["source"]: {k: v for k, v in row.items() if k != "source"}
                                 for row in backlog["by_source"] if row["source"] in FW_SOURCES}
    return {"incidents": backlog["total"], "jira": jira, "by_source": {**by_source, "jira": jira}}


def take_snapshot(reason: str, run_id: str | None = None, *, now: datetime | None = None) -> KpiSnapshot:
    """Store the headline numbers and commit; a "daily" snapshot is taken at most once per UTC day."""
    now = now or datetime.now(timezone.utc)
    if reason == "daily":
        db.session.execute(select(func.pg_advisory_xact_lock(DAILY_LOCK)))
        existing = _daily_snapshot_of(now)
        if existing is not None:
            db.session.commit()
            return existing
    snapshot = KpiSnapshot(taken_at=now, reason=reason, run_id=run_id, data=headline_numbers(now))
    db.session.add(snapshot)
    db.session.commit()
    generations.bump(generations.RUNS)  # the dashboard's trend charts read the snapshots
    return snapshot


def snapshot_after_sync(run_id: str) -> None:
    """Record the headline numbers right after a successful sync (an after-sync hook of the worker's app)."""
    take_snapshot("sync", run_id)


def _daily_snapshot_of(now: datetime) -> KpiSnapshot | None:
    start, end = day_bounds(now.astimezone(timezone.utc).date(), now.astimezone(timezone.utc).date())
    stmt = select(KpiSnapshot).where(KpiSnapshot.reason == "daily", KpiSnapshot.taken_at >= start,
                                     KpiSnapshot.taken_at < end)
    return db.session.scalars(stmt.limit(1)).first()


def trend_series(section: str, source: str | None, now: datetime, days: int = TREND_DAYS) -> list[dict[str, Any]]:
    """Return the last snapshot of each UTC day in the window: the section's trend numbers, per source if given."""
    day = func.date_trunc(literal_column("'day'"), KpiSnapshot.taken_at, literal_column("'UTC'"))
    numbers = KpiSnapshot.data[("by_source", source)] if source else KpiSnapshot.data[section]
    stmt = (select(day.label("day"), numbers.label("numbers"))
            .where(KpiSnapshot.taken_at > now - timedelta(days=days), KpiSnapshot.taken_at <= now)
            .ext(distinct_on(day)).order_by(day, KpiSnapshot.taken_at.desc()))
    series = []
    for row in db.session.execute(stmt):
        values = row.numbers or {}
        series.append({"day": row.day.astimezone(timezone.utc).date(),
                       **{key: values.get(key) for key in TREND_KEYS[section]}})
    return series


cockpit_cli = AppGroup("cockpit", help="Governance cockpit: KPI snapshots.")


@cockpit_cli.command("snapshot")
@click.option("--reason", default="daily", show_default=True,
              help='Why the snapshot is taken; "daily" is taken at most once per UTC day.')
def snapshot_command(reason: str) -> None:
    """Store the headline numbers now (for the trend charts)."""
    snapshot = take_snapshot(reason)
    taken = snapshot.taken_at.astimezone(timezone.utc)
    numbers = snapshot.data
    click.echo(f"Snapshot {snapshot.id} ({snapshot.reason}) of {taken:%Y-%m-%d %H:%M} UTC: "
               f"{numbers['incidents']['open']} open incidents, {numbers['jira']['open']} open Jira issues.")
