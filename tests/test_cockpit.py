"""Cockpit KPIs computed in SQL on hand-built data, with `now` fixed, compared with numbers worked out by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.factories import make_ticket
from tickettracker.cockpit.incidents import incident_backlog, incident_flow, incident_resolution
from tickettracker.cockpit.jira import jira_flow, jira_status_by_project, jira_wip
from tickettracker.cockpit.scope import CockpitFilters, week_start, weeks_window
from tickettracker.store.extensions import db
from tickettracker.store.queries import BadQuery

UTC = timezone.utc
NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday; its ISO week starts Monday 2026-11-02 00:00 UTC
ALL = CockpitFilters()


def at(*parts: int) -> datetime:
    """Return a UTC datetime."""
    return datetime(*parts, tzinfo=UTC)


def add(*rows: dict) -> None:
    """Insert items numbered in order; each dict overrides the factory defaults (no due date unless given)."""
    base = {"due_by": None, "assignee": "agent", "group_name": "Service Desk", "created_at": NOW - timedelta(days=1)}
    db.session.add_all(make_ticket(1000 + n, **{**base, **row}) for n, row in enumerate(rows))
    db.session.commit()


def fw(source: str, status: str, priority: tuple[int, str], **extra) -> dict:
    """Return the fields of a helpdesk ticket."""
    return {"source": source, "kind": "incident", "status_category": status, "priority_code": priority[0],
            "priority_label": priority[1], **extra}


URGENT, HIGH, MEDIUM, LOW = (4, "Urgent"), (3, "High"), (2, "Medium"), (1, "Low")


@pytest.fixture()
def backlog_data(app):
    """Five open helpdesk tickets with known properties, plus items that must never count."""
    with app.app_context():
        add(fw("freshdesk", "open", URGENT, due_by=NOW - timedelta(hours=1), created_at=NOW - timedelta(days=1)),
            fw("freshdesk", "pending", HIGH, due_by=NOW + timedelta(hours=2), assignee=None,
               created_at=NOW - timedelta(days=5), kind="service_request"),
            fw("freshservice", "open", HIGH, due_by=NOW + timedelta(hours=30), fr_due_by=NOW - timedelta(hours=1),
               is_escalated=True, created_at=NOW - timedelta(days=10)),
            fw("freshservice", "open", LOW, fr_due_by=NOW - timedelta(hours=2),
               first_responded_at=NOW - timedelta(hours=3), assignee="", group_name="Network",
               created_at=NOW - timedelta(days=20)),
            fw("freshservice", "pending", MEDIUM, due_by=NOW - timedelta(days=5), is_escalated=True,
               group_name="Network", created_at=NOW - timedelta(days=40)),
            fw("freshdesk", "resolved", URGENT, due_by=NOW - timedelta(days=1), resolved_at=NOW - timedelta(days=1)),
            fw("freshdesk", "open", URGENT, due_by=NOW - timedelta(days=1), is_deleted=True),
            fw("freshdesk", "open", URGENT, due_by=NOW - timedelta(days=1), is_spam=True),
            {"source": "jira", "kind": "jira_issue", "status_category": "todo", "due_by": NOW - timedelta(days=1)})
    return app


def test_backlog_tiles_by_priority_source_and_age(backlog_data):
    with backlog_data.app_context():
        result = incident_backlog(ALL, NOW)
    assert result["total"] == {"open": 5, "overdue": 2, "at_risk": 1, "fr_overdue": 1, "unassigned": 2,
                               "escalated": 2}
    assert [(p["priority"], p["open"], p["by_source"]) for p in result["by_priority"]] == [
        ("Urgent", 1, {"freshservice": 0, "freshdesk": 1}),
        ("High", 2, {"freshservice": 1, "freshdesk": 1}),
        ("Medium", 1, {"freshservice": 1, "freshdesk": 0}),
        ("Low", 1, {"freshservice": 1, "freshdesk": 0}),
    ]
    assert result["by_source"] == [
        {"source": "freshservice", "open": 3, "overdue": 1, "at_risk": 0, "fr_overdue": 1, "unassigned": 1,
         "escalated": 2},
        {"source": "freshdesk", "open": 2, "overdue": 1, "at_risk": 1, "fr_overdue": 0, "unassigned": 1,
         "escalated": 0},
    ]
    assert [b["count"] for b in result["ageing"]] == [1, 1, 1, 1, 1]


def test_backlog_respects_source_and_group_filters(backlog_data):
    with backlog_data.app_context():
        network = incident_backlog(CockpitFilters(group="Network"), NOW)["total"]
        freshdesk = incident_backlog(CockpitFilters(source="freshdesk"), NOW)["total"]
        jira_only = incident_backlog(CockpitFilters(source="jira"), NOW)["total"]
    assert network == {"open": 2, "overdue": 1, "at_risk": 0, "fr_overdue": 0, "unassigned": 1, "escalated": 1}
    assert freshdesk == {"open": 2, "overdue": 1, "at_risk": 1, "fr_overdue": 0, "unassigned": 1, "escalated": 0}
    assert jira_only["open"] == 0


@pytest.mark.parametrize(("now", "at_risk", "overdue"), [
    (at(2026, 11, 3, 23, 59), 0, 0),      # due exactly 24 h later: not yet at risk
    (at(2026, 11, 4, 0, 0), 1, 0),        # due in 23 h 59 min
    (at(2026, 11, 4, 23, 59), 1, 0),      # due this very minute: at risk, not overdue yet
    (at(2026, 11, 4, 23, 59, 1), 0, 1),   # one second later: overdue
    (at(2026, 11, 5, 0, 0), 0, 1),        # the next UTC day
])
def test_ticket_due_at_2359_utc(app, now, at_risk, overdue):
    with app.app_context():
        add(fw("freshservice", "open", HIGH, due_by=at(2026, 11, 4, 23, 59), created_at=at(2026, 11, 1)))
        total = incident_backlog(ALL, now)["total"]
    assert (total["at_risk"], total["overdue"]) == (at_risk, overdue)


def test_age_bucket_edges(app):
    ages = [timedelta(days=3) - timedelta(seconds=1), timedelta(days=3), timedelta(days=8) - timedelta(seconds=1),
            timedelta(days=8), timedelta(days=15), timedelta(days=31) - timedelta(seconds=1), timedelta(days=31)]
    with app.app_context():
        add(*(fw("freshdesk", "open", LOW, created_at=NOW - age) for age in ages))
        ageing = incident_backlog(ALL, NOW)["ageing"]
    assert {b["bucket"]: b["count"] for b in ageing} == {"0-2": 1, "3-7": 2, "8-14": 1, "15-30": 2, "over-30": 1}


def test_weekly_flow_uses_iso_weeks_in_utc_whatever_the_session_zone(app):
    with app.app_context():
        add(fw("freshdesk", "resolved", LOW, created_at=at(2026, 10, 20, 10), resolved_at=at(2026, 11, 2)),
            fw("freshdesk", "closed", LOW, created_at=at(2026, 10, 28, 9), resolved_at=at(2026, 11, 1, 23, 59, 59)),
            fw("freshservice", "open", LOW, created_at=at(2026, 11, 2)),
            fw("freshservice", "closed", LOW, created_at=at(2026, 8, 16, 23, 59, 59), resolved_at=at(2026, 8, 17)),
            fw("freshservice", "open", LOW, created_at=at(2026, 8, 17)),
            {"source": "jira", "kind": "jira_issue", "status_category": "done", "created_at": at(2026, 11, 2),
             "resolved_at": at(2026, 11, 3)})
        db.session.execute(text("SET TIME ZONE 'America/New_York'"))  # DST ended on Sunday 2026-11-01
        weeks = incident_flow(ALL, NOW)
    assert [w["week"] for w in weeks] == [date(2026, 8, 17) + timedelta(weeks=n) for n in range(12)]
    nonzero = {w["week"]: (w["created"], w["resolved"]) for w in weeks if w["created"] or w["resolved"]}
    assert nonzero == {date(2026, 8, 17): (1, 1), date(2026, 10, 19): (1, 0), date(2026, 10, 26): (1, 1),
                       date(2026, 11, 2): (1, 1)}


def test_week_start_is_monday_midnight_utc():
    assert week_start(at(2026, 11, 2)) == at(2026, 11, 2)
    assert week_start(at(2026, 11, 1, 23, 59, 59)) == at(2026, 10, 26)
    assert week_start(datetime(2026, 11, 2, 1, 0, tzinfo=timezone(timedelta(hours=5)))) == at(2026, 10, 26)
    assert weeks_window(NOW) == (at(2026, 8, 17), at(2026, 11, 2))


@pytest.fixture()
def resolution_data(app):
    """Four tickets resolved in the last 7 days (10, 20, 30, 40 h) and some just outside."""
    with app.app_context():
        add(fw("freshdesk", "resolved", LOW, created_at=at(2026, 10, 28, 14), resolved_at=at(2026, 10, 29)),
            fw("freshdesk", "closed", LOW, created_at=at(2026, 11, 1), resolved_at=at(2026, 11, 1, 20)),
            fw("freshservice", "resolved", LOW, created_at=at(2026, 11, 2, 6), resolved_at=at(2026, 11, 3, 12)),
            fw("freshservice", "closed", LOW, created_at=at(2026, 11, 2, 12), resolved_at=at(2026, 11, 4, 4)),
            fw("freshservice", "closed", LOW, created_at=at(2026, 9, 18, 23, 59, 59),
               resolved_at=at(2026, 10, 28, 23, 59, 59)),
            fw("freshdesk", "open", LOW, created_at=at(2026, 11, 4, 11)),
            fw("freshdesk", "open", LOW, created_at=at(2026, 10, 28, 23, 59, 59)))
    return app


def test_time_to_resolve_median_and_p90_in_period(resolution_data):
    with resolution_data.app_context():
        week = incident_resolution(CockpitFilters(period=7), NOW)
        month = incident_resolution(CockpitFilters(period=30), NOW)
        freshdesk = incident_resolution(CockpitFilters(period=7, source="freshdesk"), NOW)
    assert week == {"first_day": date(2026, 10, 29), "last_day": date(2026, 11, 4), "created": 4, "resolved": 4,
                    "p50_hours": 25.0, "p90_hours": 37.0}
    assert (month["resolved"], month["p50_hours"], month["p90_hours"]) == (5, 30.0, 592.0)
    assert (freshdesk["created"], freshdesk["resolved"], freshdesk["p50_hours"]) == (2, 2, 15.0)


def test_no_resolutions_give_no_percentiles(app):
    with app.app_context():
        add(fw("freshdesk", "open", LOW))
        result = incident_resolution(ALL, NOW)
    assert (result["resolved"], result["p50_hours"], result["p90_hours"]) == (0, None, None)


def jira(project: str | None, status: str, created_days: float, updated: timedelta, **extra) -> dict:
    """Return the fields of a Jira issue."""
    return {"source": "jira", "kind": "jira_issue", "project": project, "status_category": status,
            "created_at": NOW - timedelta(days=created_days), "updated_at": NOW - updated, **extra}


@pytest.fixture()
def jira_data(app):
    """Issues in OPS, ENG and without a project; two of them stuck, one exactly at the 3-day edge."""
    with app.app_context():
        add(jira("OPS", "todo", 9, timedelta(days=4)),
            jira("OPS", "todo", 1, timedelta(days=1)),
            jira("OPS", "in_progress", 2, timedelta(days=3)),
            jira("OPS", "in_progress", 10, timedelta(days=3, seconds=1)),
            jira("OPS", "done", 60, timedelta(days=30), resolved_at=at(2026, 11, 2)),
            jira("ENG", "in_progress", 40, timedelta(hours=1)),
            jira("ENG", "done", 50, timedelta(days=20), resolved_at=at(2026, 11, 1, 23, 59, 59)),
            jira("ENG", "done", 50, timedelta(days=20), resolved_at=at(2026, 6, 1)),
            jira("ENG", "done", 50, timedelta(days=20), resolved_at=at(2026, 10, 28, 23, 59, 59)),
            jira("ENG", "done", 50, timedelta(days=20), resolved_at=at(2026, 11, 9)),  # after `now`: never counted
            jira(None, "todo", 3, timedelta(hours=1)),
            jira("OPS", "todo", 9, timedelta(days=9), is_deleted=True),
            fw("freshdesk", "open", LOW, updated_at=NOW - timedelta(days=9)))
    return app


def test_jira_status_by_project_and_stuck(jira_data):
    with jira_data.app_context():
        result = jira_status_by_project(ALL, NOW)
        eng = jira_status_by_project(CockpitFilters(project="ENG"), NOW)
        short = jira_status_by_project(CockpitFilters(period=7), NOW)
    assert result["projects"] == [
        {"project": "OPS", "todo": 2, "in_progress": 2, "done": 1},
        {"project": "ENG", "todo": 0, "in_progress": 1, "done": 2},   # done in the 30 days; not the June one
        {"project": None, "todo": 1, "in_progress": 0, "done": 0},
    ]
    assert result["totals"] == {"todo": 3, "in_progress": 3, "done": 3, "open": 6, "stuck": 2}
    assert eng["totals"] == {"todo": 0, "in_progress": 1, "done": 2, "open": 1, "stuck": 0}
    assert short["totals"]["done"] == 2  # 7 days = 2026-10-29..11-04: not the one done at 10-28 23:59:59



def test_jira_work_in_progress_age(jira_data):
    with jira_data.app_context():
        wip = jira_wip(ALL, NOW)
        ops = jira_wip(CockpitFilters(project="OPS"), NOW)
    assert (wip["count"], wip["p50_days"], wip["p90_days"], wip["oldest_days"]) == (3, 10.0, 34.0, 40.0)
    assert {b["bucket"]: b["count"] for b in wip["ageing"]} == {"0-2": 1, "3-7": 0, "8-14": 1, "15-30": 0,
                                                                 "over-30": 1}
    assert (ops["count"], ops["oldest_days"]) == (2, 10.0)


def test_jira_created_vs_done_per_week(jira_data):
    with jira_data.app_context():
        weeks = {w["week"]: (w["created"], w["done"]) for w in jira_flow(ALL, NOW)}
    assert weeks[date(2026, 11, 2)] == (2, 1)   # created Mon 11-02 12:00 and Tue 11-03; OPS done at Mon 00:00
    assert weeks[date(2026, 10, 26)] == (2, 2)  # created Mon 10-26 and Sun 11-01; done Wed 10-28 and Sun 23:59:59
    assert weeks[date(2026, 10, 19)] == (1, 0)  # created Sun 10-25 12:00 belongs to the week before
    assert sum(done for _, done in weeks.values()) == 3  # the June resolution is outside the 12 weeks


def test_filters_reject_unknown_source_and_period():
    assert CockpitFilters.from_args({"source": "jira", "project": " OPS ", "period": "7"}) == \
        CockpitFilters(source="jira", project="OPS", period=7)
    with pytest.raises(BadQuery, match="source"):
        CockpitFilters.from_args({"source": "zendesk"})
    with pytest.raises(BadQuery, match="period"):
        CockpitFilters.from_args({"period": "31"})
    assert CockpitFilters(source="freshdesk", period=7).state() == {"source": "freshdesk", "period": "7"}


def test_jira_section_is_empty_when_a_helpdesk_source_is_chosen(jira_data):
    with jira_data.app_context():
        totals = jira_status_by_project(CockpitFilters(source="freshdesk"), NOW)["totals"]
        wip = jira_wip(CockpitFilters(source="freshdesk"), NOW)
    assert (totals["open"], totals["done"], wip["count"]) == (0, 0, 0)
