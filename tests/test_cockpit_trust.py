"""Trust stamps (freshness per sync type) and KPI snapshots (daily, after syncs, trends, CLI)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, text

from tests.factories import make_ticket
from tickettracker.cockpit.snapshots import take_snapshot, trend_series
from tickettracker.cockpit.trust import freshness
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import KpiSnapshot, SyncRun, SyncSchedule

UTC = timezone.utc
NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)


def run(run_id: str, sync_type: str, status: SyncStatus, finished_minutes_ago: float | None) -> SyncRun:
    """Return an unsaved sync run that ended (or not) some minutes before NOW."""
    finished = None if finished_minutes_ago is None else NOW - timedelta(minutes=finished_minutes_ago)
    queued = (finished or NOW) - timedelta(minutes=2)
    return SyncRun(id=run_id, type=sync_type, status=int(status), queued_at=queued, started_at=queued,
                   finished_at=finished)


def test_no_successful_sync_is_stale(app):
    with app.app_context():
        db.session.add(run("f1", "JIRA", SyncStatus.FAILED, 5))
        db.session.commit()
        stamps = freshness(NOW)
    assert stamps["Incidents"].stale and stamps["Incidents"].run_id is None
    assert stamps["JIRA"].stale and stamps["JIRA"].last_failed and stamps["JIRA"].as_of is None


def test_stale_after_twice_the_default_interval(app):
    with app.app_context():
        db.session.add_all([run("inc-ok", "Incidents", SyncStatus.COMPLETED, 120),  # exactly 2 x 60: still fresh
                            run("jira-old", "JIRA", SyncStatus.COMPLETED, 121)])
        db.session.commit()
        stamps = freshness(NOW)
    assert (stamps["Incidents"].stale, stamps["Incidents"].run_id, stamps["Incidents"].interval_minutes) == \
        (False, "inc-ok", 60)
    assert stamps["Incidents"].as_of == NOW - timedelta(minutes=120)
    assert stamps["JIRA"].stale and "twice the 60-minute" in stamps["JIRA"].reason


def test_schedule_row_overrides_the_default_interval(app):
    with app.app_context():
        db.session.add_all([run("jira-old", "JIRA", SyncStatus.COMPLETED, 121),
                            run("inc", "Incidents", SyncStatus.COMPLETED, 50),
                            SyncSchedule(type="JIRA", interval_minutes=90, enabled=True),
                            SyncSchedule(type="Incidents", interval_minutes=20, enabled=True)])
        db.session.commit()
        stamps = freshness(NOW)
    assert not stamps["JIRA"].stale and stamps["JIRA"].interval_minutes == 90
    assert stamps["Incidents"].stale and stamps["Incidents"].interval_minutes == 20


def test_settings_default_interval_when_no_schedule_row(app_config):
    from tickettracker import create_app

    app = create_app({**app_config, "SYNC_INTERVAL_JIRA_MINUTES": "10"})
    with app.app_context():
        db.session.add(run("jira", "JIRA", SyncStatus.COMPLETED, 25))
        db.session.commit()
        stamp = freshness(NOW)["JIRA"]
        db.session.execute(text("TRUNCATE sync_runs CASCADE"))
        db.session.commit()
        db.engine.dispose()
    assert stamp.stale and stamp.interval_minutes == 10


def test_last_run_failed_makes_stale_but_keeps_last_success(app):
    with app.app_context():
        db.session.add_all([run("ok", "Incidents", SyncStatus.COMPLETED, 30),
                            run("bad", "Incidents", SyncStatus.FAILED, 10),
                            run("ok-j", "JIRA", SyncStatus.COMPLETED, 30),
                            run("cancel-j", "JIRA", SyncStatus.CANCELLED, 10),
                            run("running-j", "JIRA", SyncStatus.RUNNING, None)])
        db.session.commit()
        stamps = freshness(NOW)
    incidents, jira = stamps["Incidents"], stamps["JIRA"]
    assert (incidents.stale, incidents.last_failed, incidents.run_id) == (True, True, "ok")
    assert "failed" in incidents.reason
    assert (jira.stale, jira.last_failed, jira.run_id) == (False, False, "ok-j")


def test_a_success_after_a_failure_is_fresh_again(app):
    with app.app_context():
        db.session.add_all([run("bad", "Incidents", SyncStatus.FAILED, 30),
                            run("ok", "Incidents", SyncStatus.COMPLETED, 5)])
        db.session.commit()
        stamp = freshness(NOW)["Incidents"]
    assert (stamp.stale, stamp.last_failed, stamp.run_id) == (False, False, "ok")


def seed_numbers() -> None:
    """Two open Freshdesk tickets (one overdue), one open Freshservice ticket, one Jira issue in progress."""
    rows = [{"source": "freshdesk", "due_by": NOW - timedelta(hours=1)},
            {"source": "freshdesk", "due_by": NOW + timedelta(days=3)},
            {"source": "freshservice", "due_by": None},
            {"source": "jira", "kind": "jira_issue", "status_category": "in_progress", "project": "OPS",
             "updated_at": NOW - timedelta(hours=1), "due_by": None}]
    db.session.add_all(make_ticket(n, **{"created_at": NOW - timedelta(days=1), "assignee": "agent", **row})
                       for n, row in enumerate(rows))
    db.session.commit()


def test_daily_snapshot_is_taken_once_per_utc_day(app):
    with app.app_context():
        seed_numbers()
        first = take_snapshot("daily", now=NOW)
        again = take_snapshot("daily", now=NOW.replace(hour=23, minute=59))
        tomorrow = take_snapshot("daily", now=NOW.replace(day=5, hour=0, minute=0))
        first_id, again_id, tomorrow_id = first.id, again.id, tomorrow.id
        count = db.session.scalar(select(func.count()).select_from(KpiSnapshot))
    assert first_id == again_id != tomorrow_id
    assert count == 2


def test_sync_snapshots_are_always_taken_and_hold_the_headline_numbers(app):
    with app.app_context():
        seed_numbers()
        one = take_snapshot("sync", run_id="run-1", now=NOW)
        two = take_snapshot("sync", run_id="run-2", now=NOW)
        assert one.id != two.id and (one.reason, one.run_id) == ("sync", "run-1")
        data = one.data
    assert data["incidents"] == {"open": 3, "overdue": 1, "at_risk": 0, "fr_overdue": 0, "unassigned": 0,
                                 "escalated": 0}
    assert data["by_source"]["freshdesk"]["open"] == 2 and data["by_source"]["freshdesk"]["overdue"] == 1
    assert data["by_source"]["freshservice"]["overdue"] == 0
    assert data["jira"] == {"open": 1, "todo": 0, "in_progress": 1, "stuck": 0, "wip": 1}


def test_trend_keeps_the_last_snapshot_of_each_utc_day(app):
    def snap(when: datetime, open_: int, overdue: int) -> KpiSnapshot:
        numbers = {"open": open_, "overdue": overdue}
        return KpiSnapshot(taken_at=when, reason="sync", data={
            "incidents": numbers, "jira": {"open": 9, "stuck": 1},
            "by_source": {"freshdesk": {"open": open_ - 1, "overdue": 0}}})

    with app.app_context():
        db.session.add_all([snap(NOW - timedelta(days=40), 99, 99),                    # outside 30 days
                            snap(datetime(2026, 11, 2, 23, 59, tzinfo=UTC), 10, 2),
                            snap(datetime(2026, 11, 3, 0, 0, tzinfo=UTC), 11, 3),       # next UTC day
                            snap(datetime(2026, 11, 3, 18, 0, tzinfo=UTC), 12, 4),      # last of that day
                            snap(NOW + timedelta(hours=1), 50, 50)])                    # after `now`
        db.session.commit()
        db.session.execute(text("SET TIME ZONE 'Asia/Tokyo'"))
        overall = trend_series("incidents", None, NOW)
        freshdesk = trend_series("incidents", "freshdesk", NOW)
        jira = trend_series("jira", None, NOW)
    assert overall == [{"day": date(2026, 11, 2), "open": 10, "overdue": 2},
                       {"day": date(2026, 11, 3), "open": 12, "overdue": 4}]
    assert [row["open"] for row in freshdesk] == [9, 11]
    assert jira[0] == {"day": date(2026, 11, 2), "open": 9, "stuck": 1}


def test_cli_snapshot_command(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["cockpit", "snapshot"])
    second = runner.invoke(args=["cockpit", "snapshot"])
    third = runner.invoke(args=["cockpit", "snapshot", "--reason", "manual"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Snapshot 1 (daily)") and "0 open incidents" in first.output
    assert second.output.startswith("Snapshot 1 (daily)")
    assert third.output.startswith("Snapshot 2 (manual)")
