"""The Freshservice / Freshdesk completeness audit: counts by creation-day slices, split until enumerable.

The filter/search endpoints count tickets by whole UTC creation days (and never find deleted or spam ones). The audit
asks for two slices first, everything up to yesterday and today; a slice whose total differs from the cache's live
count for the same days is split in halves until it holds at most 300 tickets (what 10 pages of 30 can list), then
listed and diffed by id. A single day with more than 300 is split by priority. A ticket the cache holds live but
the vendor no longer lists is read with GET /api/v2/tickets/{id}: 404 (gone) or deleted/spam takes it out of the
live lists; a ticket the vendor lists but the cache lacks is read the same way and stored. Tickets created in the
last AUDIT_SKIP_MINUTES are left alone (search lags behind writes; the next audit sees them). A Freshdesk ticket that
answers 404 but GET /api/v2/tickets/archived/{id} was archived, not purged: it stays cached as last seen, is recorded
in archived_tickets and is left out of the counts from then on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tickettracker.connectors.base import Checkpoint
from tickettracker.connectors.fw_search import MAX_RESULTS, PER_PAGE, day_query
from tickettracker.connectors.mapping import EPOCH_START, parse_time
from tickettracker.store.extensions import db
from tickettracker.sync.audit import LIVE, AuditResult, AuditRun, Budget, live_count
from tickettracker.sync.ingest import mark_deleted, write_page

PRIORITIES = ("1", "2", "3", "4")
# Live rows the vendor's search can count: archived Freshdesk tickets are never in search.
NOT_ARCHIVED = ("NOT EXISTS (SELECT 1 FROM archived_tickets x WHERE x.source = tickets.source "
                "AND x.account = tickets.account AND x.external_id = tickets.external_id)")
DAY_COUNTS_SQL = text(
    "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) FROM tickets "  # noqa: S608  # nosec B608
    f"WHERE source = :s AND account = :a AND {LIVE} AND {NOT_ARCHIVED} AND created_at IS NOT NULL GROUP BY 1")
SLICE_ROWS_SQL = text(
    "SELECT external_id, created_at FROM tickets WHERE source = :s AND account = :a "  # noqa: S608  # nosec B608
    f"AND {LIVE} AND {NOT_ARCHIVED} AND created_at >= :first AND created_at < :after")
ARCHIVED_SQL = text("INSERT INTO archived_tickets (source, account, external_id) VALUES (:s, :a, :e) "
                    "ON CONFLICT DO NOTHING")


def audit_freshworks(connector: Any, run: AuditRun, last: Checkpoint, budget: Budget, result: AuditResult) -> None:
    """Compare and repair one Freshworks source slice by slice (see the module docstring)."""
    cutoff = datetime.now(UTC) - timedelta(minutes=run.audit_skip_minutes)
    days = _cache_days(connector.source, run.account)
    today = cutoff.date()
    audit = _SliceAudit(connector, run, budget, result, days, cutoff)
    slices = [(EPOCH_START.date(), today - timedelta(days=1)), (today, today)]
    result.vendor_count = 0
    for first, last_day in slices:
        result.vendor_count += audit.check(first, last_day)
    result.cache_count = live_count(connector.source, run.account, f"created_at < :after AND {NOT_ARCHIVED}",
                                    {"after": _start_of(today + timedelta(days=1))})
    if audit.archived:
        result.notes.append(f"{audit.archived} tickets archived by the vendor: kept as last seen")
    if audit.unresolved:
        result.status = "differs"
        result.notes.append(f"{audit.unresolved} tickets could not be settled this run")


class _SliceAudit:
    """One audit's walk over slices; counts what it checks and repairs into the result."""

    def __init__(self, connector: Any, run: AuditRun, budget: Budget, result: AuditResult, days: dict[date, int],
                 cutoff: datetime) -> None:
        """Keep the cache's live count per creation day and the moment before which tickets are audited."""
        self.connector, self.run, self.budget, self.result = connector, run, budget, result
        self.days, self.cutoff = days, cutoff
        self.scope = connector.search_scope()
        self.unresolved = 0
        self.archived = 0  # Freshdesk tickets found archived (kept as last seen, left out of later counts)

    def check(self, first: date, last: date, top: bool = True) -> int:
        """Compare one slice; split or enumerate it when it differs. Return the vendor's total for it."""
        if first > last:
            return 0
        self.budget.take()
        page = self.connector.search(day_query(first, last, self.scope), 1)
        self.result.slices_checked += 1
        cached = sum(count for day, count in self.days.items() if first <= day <= last)
        if page.total == cached:
            return page.total
        if page.total <= MAX_RESULTS:
            self._settle(first, last, self._list(first, last, "", page))
        elif first < last:
            middle = first + (last - first) // 2
            self.check(first, middle, False)
            self.check(middle + timedelta(days=1), last, False)
        else:
            self._settle(first, last, self._by_priority(first))
        return page.total

    def _list(self, first: date, last: date, extra: str, page: Any) -> dict[str, dict[str, Any]]:
        """Every ticket of a slice of at most 300: the first page is in hand, the others are read."""
        found = {str(ticket["id"]): ticket for ticket in page.tickets}
        pages = -(-page.total // PER_PAGE)
        for number in range(2, min(pages, MAX_RESULTS // PER_PAGE) + 1):
            self.budget.take()
            more = self.connector.search(day_query(first, last, self.scope, extra), number)
            found.update({str(ticket["id"]): ticket for ticket in more.tickets})
        return found

    def _by_priority(self, day: date) -> dict[str, dict[str, Any]] | None:
        """A day with more than 300 tickets, listed one priority at a time; None when one priority still has more."""
        found: dict[str, dict[str, Any]] = {}
        for priority in PRIORITIES:
            extra = f"priority:{priority}"
            self.budget.take()
            page = self.connector.search(day_query(day, day, self.scope, extra), 1)
            self.result.slices_checked += 1
            if page.total > MAX_RESULTS:
                self.result.notes.append(f"{day.isoformat()} has more than {MAX_RESULTS} tickets of priority "
                                         f"{priority}; that day is compared by count only")
                return None
            found.update(self._list(day, day, extra, page))
        return found

    def _settle(self, first: date, last: date, listed: dict[str, dict[str, Any]] | None) -> None:
        """Diff a listed slice against the cache and repair it (each difference confirmed by a GET)."""
        if listed is None:
            self.unresolved += 1
            return
        cached = _slice_rows(self.connector.source, self.run.account, first, last)
        gone = [ext for ext, created in cached.items() if ext not in listed and created <= self.cutoff]
        new = [ext for ext, ticket in listed.items() if ext not in cached
               and (parse_time(ticket.get("created_at")) or self.cutoff) <= self.cutoff]
        for ext in gone + new:
            self.budget.take()
            self._repair(ext)

    def _repair(self, ext: str) -> None:
        """Read one ticket and store what it is now: gone (404), deleted, spam or live."""
        ticket = self.connector.fetch_ticket(ext)
        run, source = self.run, self.connector.source
        if ticket is None and self.connector.is_archived(ext):
            db.session.execute(ARCHIVED_SQL, {"s": source, "a": run.account, "e": ext})
            db.session.commit()
            self.archived += 1
            return
        if ticket is None:
            changed = mark_deleted(source, [ext], account=run.account, run_id=run.run_id)
            run.counts.deleted += changed
        else:
            written = write_page(source, [self.connector.record(ticket)], None, run.links, account=run.account,
                                 run_id=run.run_id)
            run.add(self.connector, written, 1)
            changed = written.created + written.updated + written.deleted
        self.result.repaired += changed


def _start_of(day: date) -> datetime:
    """Midnight UTC at the start of a day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _cache_days(source: str, account: str) -> dict[date, int]:
    """The cache's live tickets per UTC creation day."""
    try:
        return {row[0]: int(row[1]) for row in db.session.execute(DAY_COUNTS_SQL, {"s": source, "a": account})}
    finally:
        db.session.rollback()


def _slice_rows(source: str, account: str, first: date, last: date) -> dict[str, datetime]:
    """The cache's live tickets created from first to last (UTC days, both included): id → created_at."""
    try:
        rows = db.session.execute(SLICE_ROWS_SQL, {"s": source, "a": account, "first": _start_of(first),
                                                   "after": _start_of(last + timedelta(days=1))})
        return {str(ext): created for ext, created in rows}
    finally:
        db.session.rollback()
