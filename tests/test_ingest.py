"""Page writes: set-based upsert, counts, no-op rows untouched, cursor in the same transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import text

from tickettracker.connectors.base import Checkpoint, TicketRecord
from tickettracker.store.extensions import db
from tickettracker.sync.ingest import census_diff, dedupe, load_cursor, mark_deleted, mark_hidden, write_page

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record(n: int, **changes) -> TicketRecord:
    """A plausible Freshdesk record numbered n."""
    base = TicketRecord(source="freshdesk", external_id=str(n), kind="incident", subject=f"Ticket {n}",
                        status_code="2", status_label="Open", updated_at=T0 + timedelta(minutes=n),
                        tags=("vpn",), custom_fields={"cf_vip": n % 2 == 0}, raw={"id": n, "subject": f"Ticket {n}"})
    return replace(base, **changes)


def versions() -> dict[str, str]:
    """xmin per external id."""
    rows = db.session.execute(text("SELECT external_id, xmin::text FROM tickets")).all()
    db.session.commit()
    return dict(rows)


@pytest.fixture()
def ctx(app):
    """The app with its context pushed."""
    with app.app_context():
        yield app


def test_dedupe_keeps_the_newest_version_of_each_key():
    older, newer = record(1), record(1, subject="new", updated_at=T0 + timedelta(days=1))
    assert dedupe([newer, record(2), older]) == [newer, record(2)]
    assert dedupe([older, newer])[0].subject == "new"


def test_write_counts_created_updated_unchanged_and_rewrites_nothing_unchanged(ctx):
    first = write_page("freshdesk", [record(n) for n in range(1, 6)], Checkpoint({"bookmarks": {"open": "a"}}, T0))
    assert (first.created, first.updated, first.unchanged) == (5, 0, 0)
    before = versions()
    again = write_page("freshdesk", [record(n) for n in range(1, 6)] + [record(3)], None)
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 5)
    assert versions() == before
    changed = write_page("freshdesk", [record(2, subject="changed"), record(9)], None)
    assert (changed.created, changed.updated, changed.unchanged) == (1, 1, 0)
    after = versions()
    assert after["2"] != before["2"] and after["1"] == before["1"]


def test_a_page_that_flags_deletion_counts_as_deleted_once(ctx):
    write_page("freshdesk", [record(1), record(2)], None)
    result = write_page("freshdesk", [record(1, is_deleted=True), record(2, is_spam=True)], None)
    assert (result.deleted, result.updated) == (2, 0)
    assert write_page("freshdesk", [record(1, is_deleted=True, subject="x")], None).deleted == 0


def test_the_cursor_moves_in_the_same_transaction_as_the_rows(ctx):
    write_page("freshdesk", [record(1)], Checkpoint({"bookmarks": {"open": "one"}}, T0))
    bad = record(2, priority_code=99999)  # out of SMALLINT range: the whole page must roll back
    with pytest.raises(psycopg.Error):
        write_page("freshdesk", [record(3), bad], Checkpoint({"bookmarks": {"open": "two"}}, T0 + timedelta(days=1)))
    assert load_cursor("freshdesk") == (T0, {"bookmarks": {"open": "one"}})
    assert set(versions()) == {"1"}


def test_text_with_nul_characters_and_unicode_is_stored(ctx):
    write_page("freshdesk", [record(1, subject="a\x00b ✓ 工单", raw={"text": "x\x00y"})], None)
    row = db.session.execute(text("SELECT subject, raw FROM tickets")).one()
    assert row == ("ab ✓ 工单", {"text": "xy"})


def test_census_diff_and_mark_deleted(ctx):
    write_page("freshdesk", [record(1, project="P"), record(2), record(3, is_deleted=True),
                             record(5, raw={"fields": {"project": {"id": "10001"}}})], None)
    missing, refetch = census_diff("freshdesk", ["2", "3", "4"])
    assert (missing, refetch) == ({"1": "P", "5": "10001"}, ["3", "4"])
    assert mark_deleted("freshdesk", ["1"], Checkpoint({"runs": 0})) == 1
    assert mark_deleted("freshdesk", ["1"]) == 0
    assert load_cursor("freshdesk")[1] == {"runs": 0}
    assert mark_hidden("freshdesk", ["5"], "not_visible") == 1
    assert db.session.execute(text("SELECT external_id, is_deleted, hidden_reason FROM tickets "
                                   "WHERE external_id IN ('1', '5') ORDER BY 1")).all() == [
        ("1", True, None), ("5", True, "not_visible")]
    write_page("freshdesk", [record(5)], None)  # seen again: live, and the reason is gone
    assert db.session.execute(text("SELECT is_deleted, hidden_reason FROM tickets WHERE external_id = '5'")).one() \
        == (False, None)


def test_every_column_round_trips_through_the_binary_copy(ctx):
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-5)))
    full = record(1, description_text="body", priority_code=-32768, priority_label="Low", channel="Email",
                  requester="Ana", assignee="Bo", group_name="Ops", project="PRJ", workspace="2", created_at=moment,
                  due_by=datetime(2026, 4, 1, 9, 0), is_escalated=True, tags=("a", "b\x00c"), url="https://x/1",
                  is_spam=True)
    write_page("freshdesk", [full, record(2, priority_code=32767, tags=())], None)
    row = db.session.execute(text(
        "SELECT description_text, priority_code, channel, created_at, due_by, is_escalated, tags, url, is_spam, "
        "custom_fields FROM tickets WHERE external_id = '1'")).one()
    assert row == ("body", -32768, "Email", moment, datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc), True,
                   ["a", "bc"], "https://x/1", True, {"cf_vip": False})
    assert db.session.execute(text("SELECT priority_code, tags FROM tickets WHERE external_id = '2'")).one() == (
        32767, [])


def test_a_literal_backslash_u0000_in_a_document_is_kept(ctx):
    raw = {"body": "path C:\\u0000 and a real\x00 NUL", "escaped": "\\\x00"}
    write_page("freshdesk", [record(1, raw=raw)], None)
    stored = db.session.execute(text("SELECT raw FROM tickets")).scalar_one()
    assert stored == {"body": "path C:\\u0000 and a real NUL", "escaped": "\\"}
