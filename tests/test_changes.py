"""What changed, per run: each class on hand-built before/after rows, the run's tally, the overdue sweep."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tickettracker.connectors.base import TicketRecord
from tickettracker.core.changes import NO_CHANGES, headline
from tickettracker.store.extensions import db
from tickettracker.sync import runs
from tickettracker.sync.changes import ChangeScope, change_counts, run_changes, sweep_overdue
from tickettracker.sync.ingest import mark_deleted, write_page

NOW = datetime.now(timezone.utc)
SINCE = NOW - timedelta(hours=1)  # the last run started an hour ago
SCOPE = ChangeScope(SINCE)


def rec(n: int, **changes) -> TicketRecord:
    """An open, assigned, medium-priority Freshdesk ticket n, due tomorrow."""
    base = TicketRecord(source="freshdesk", external_id=str(n), kind="incident", subject=f"Ticket {n}",
                        status_code="2", status_label="Open", status_category="open", priority_code=2,
                        priority_label="Medium", assignee="alice", updated_at=NOW - timedelta(days=1),
                        due_by=NOW + timedelta(days=1))
    return replace(base, **changes)


def issue(n: int, **changes) -> TicketRecord:
    """A Jira issue n in progress with priority Medium."""
    base = TicketRecord(source="jira", external_id=str(10000 + n), external_key=f"DEV-{n}", kind="jira_issue",
                        subject=f"Issue {n}", status_label="In Progress", status_category="in_progress",
                        priority_code=3, priority_label="Medium", assignee="dev", updated_at=NOW - timedelta(days=1))
    return replace(base, **changes)


def classes(before: list[TicketRecord], after: list[TicketRecord], scope: ChangeScope = SCOPE) -> dict[str, int]:
    """Write the before rows, then classify the after rows; return the non-empty classes with their counts."""
    if before:
        write_page(before[0].source, before, None)
    result = write_page(after[0].source, after, None, changes=scope)
    return {name: found.count for name, found in result.changes.items()}


def bump(record: TicketRecord, **changes) -> TicketRecord:
    """The same item, updated a minute later with the given changes."""
    return replace(record, updated_at=(record.updated_at or NOW) + timedelta(minutes=1), **changes)


@pytest.fixture()
def ctx(app):
    with app.app_context():
        yield app


def test_a_new_item_is_new_and_nothing_else(ctx):
    assert classes([], [rec(1)]) == {"new": 1}


def test_closing_and_resolving_are_one_class_and_a_closed_row_closing_again_is_not(ctx):
    assert classes([rec(1), rec(2)], [bump(rec(1), status_category="resolved", status_label="Resolved"),
                                      bump(rec(2), status_category="closed", status_label="Closed")]) == {"resolved": 2}
    closed = bump(rec(2), status_category="closed", status_label="Closed")
    assert classes([], [bump(closed, subject="edited")]) == {}


def test_a_resolved_item_back_to_open_is_reopened(ctx):
    resolved = rec(1, status_category="resolved", status_label="Resolved")
    assert classes([resolved], [bump(resolved, status_category="open", status_label="Open")]) == {"reopened": 1}


def test_an_item_whose_due_time_passed_since_the_last_run_is_newly_overdue_once(ctx):
    before = [rec(1, due_by=NOW + timedelta(minutes=5)), rec(2, due_by=SINCE - timedelta(hours=1))]
    # 1: was due in the future at the last run, now due 10 minutes ago; 2: overdue already at the last run
    after = [bump(before[0], due_by=NOW - timedelta(minutes=10)), bump(before[1], subject="still late")]
    assert classes(before, after) == {"newly_overdue": 1}


def test_a_new_item_counts_as_newly_overdue_only_when_it_fell_due_after_the_last_run(ctx):
    late = [rec(1, due_by=NOW - timedelta(minutes=5)), rec(2, due_by=SINCE - timedelta(days=2))]
    assert classes([], late) == {"new": 2, "newly_overdue": 1}


def test_on_the_first_run_of_a_type_a_new_item_is_only_new(ctx):
    first = ChangeScope(None)
    assert classes([], [rec(1, due_by=NOW - timedelta(minutes=5), priority_code=4)], first) == {"new": 1}
    assert classes([rec(2)], [bump(rec(2), due_by=NOW - timedelta(minutes=5), priority_code=4)], first) == \
        {"newly_overdue": 1, "new_urgent": 1}


def test_a_resolved_item_past_its_due_time_is_not_overdue(ctx):
    assert classes([rec(1)], [bump(rec(1), status_category="resolved", due_by=NOW - timedelta(minutes=1))]) == \
        {"resolved": 1}


def test_an_item_raised_to_urgent_is_new_urgent_and_one_already_urgent_is_not(ctx):
    urgent = rec(2, priority_code=4, priority_label="Urgent")
    found = classes([rec(1), urgent], [bump(rec(1), priority_code=4, priority_label="Urgent"),
                                       bump(urgent, subject="still urgent")])
    assert found == {"new_urgent": 1}
    assert classes([], [rec(3, priority_code=4, priority_label="Urgent")]) == {"new": 1, "new_urgent": 1}


def test_jira_highest_and_blocker_are_urgent(ctx):
    found = classes([issue(1), issue(2)], [bump(issue(1), priority_label="Highest", priority_code=1),
                                           bump(issue(2), priority_label="Blocker", priority_code=10000)])
    assert found == {"new_urgent": 2}
    assert classes([], [issue(3, priority_label="High")]) == {"new": 1}


def test_a_new_owner_is_reassigned_but_a_first_assignment_is_not(ctx):
    found = classes([rec(1), rec(2, assignee=None)], [bump(rec(1), assignee="bob"),
                                                      bump(rec(2, assignee=None), assignee="carol")])
    assert found == {"reassigned": 1}


def test_an_item_both_reopened_and_reassigned_is_in_both_classes(ctx):
    resolved = rec(1, status_category="resolved", status_label="Resolved")
    result = write_page("freshdesk", [resolved], None)
    assert result.created == 1
    after = write_page("freshdesk", [bump(resolved, status_category="open", assignee="bob")], None, changes=SCOPE)
    (row_id,) = db.session.execute(text("SELECT id FROM tickets")).scalars()
    assert {name: (found.count, found.ids) for name, found in after.changes.items()} == \
        {"reopened": (1, [row_id]), "reassigned": (1, [row_id])}


def test_deleted_and_spam_items_are_deleted_even_when_overdue_and_never_twice(ctx):
    overdue = rec(1, due_by=NOW - timedelta(minutes=30))
    found = classes([overdue, rec(2)], [bump(overdue, is_deleted=True), bump(rec(2), is_spam=True)])
    assert found == {"deleted": 2}
    assert classes([], [bump(overdue, is_deleted=True, subject="again")]) == {}


def test_unchanged_rows_are_not_classified(ctx):
    assert classes([rec(1, priority_code=4)], [rec(1, priority_code=4)]) == {}


def test_headline_names_the_notable_classes_in_order():
    assert headline({"new_urgent": 3, "newly_overdue": 2, "reopened": 5, "new": 40}) == \
        "3 new urgent · 2 newly overdue · 5 reopened"
    assert headline({"new": 4, "resolved": 2}) == NO_CHANGES
    assert headline(None) is None


def _running_run() -> str:
    run = runs.create_run("Incidents", "manual", "alice").run
    runs.mark_running(run.id)
    return run.id


def test_a_run_adds_up_its_pages_keeps_200_ids_per_class_and_counts_census_deletions(ctx):
    run_id = _running_run()
    write_page("freshdesk", [rec(n) for n in range(150)], None, run_id=run_id, changes=SCOPE)
    write_page("freshdesk", [rec(n) for n in range(150, 300)], None, run_id=run_id, changes=SCOPE)
    mark_deleted("freshdesk", ["3", "4"], run_id=run_id)
    counts = change_counts(run_id)
    assert (counts["new"], counts["deleted"], counts["reopened"]) == (300, 2, 0)
    listed = {c["change"]: c for c in run_changes(run_id)}
    assert len(listed["new"]["items"]) == 200 and listed["new"]["truncated"]
    assert [item["key"] for item in listed["deleted"]["items"]] == ["3", "4"]


def test_a_page_rolled_back_adds_nothing_to_its_run(ctx):
    run_id = _running_run()
    with pytest.raises(Exception):  # noqa: B017,PT011 - the out-of-range value fails the COPY
        write_page("freshdesk", [rec(1), rec(2, priority_code=99999)], None, run_id=run_id, changes=SCOPE)
    assert change_counts(run_id)["new"] == 0


def test_the_sweep_finds_items_that_became_overdue_without_any_page(ctx):
    write_page("freshdesk", [rec(1, due_by=NOW - timedelta(minutes=10)), rec(2, due_by=SINCE - timedelta(hours=2)),
                             rec(3, due_by=NOW + timedelta(hours=1))], None)
    run_id = _running_run()
    started = datetime.now(timezone.utc) + timedelta(seconds=1)  # every row above was written before the run
    assert sweep_overdue("freshdesk", "", run_id, SINCE, started) == 1
    assert change_counts(run_id)["newly_overdue"] == 1
    assert sweep_overdue("freshdesk", "", run_id, None, started) == 0  # no last run: nothing is "newly" overdue
