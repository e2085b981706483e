"""The at-risk refresh: open tickets near (or just past) their due times, and the Jira issues linked to them, read
again by id on a short cadence, so an at-risk ticket is never as old as the hourly sync.

The set: live helpdesk tickets in an open category whose due time, or first-response due time while nobody has
answered, lies within the horizon on either side of now (a ticket that has just breached stays in it, so the breach
shows, or its resolution clears it, within one cadence), the most urgent first, at most SLA_REFRESH_MAX_ITEMS; plus
the Jira issues linked to them in either direction. Helpdesk tickets are read one by one (GET
/api/v2/tickets/{id}: neither Freshworks API reads several ids in one call); Jira issues a hundred per `id in (...)`
search. A ticket that comes back deleted or closed (or 404) leaves the set with that write. Each part runs only
while it holds its type's lock (typelock), so never alongside a full run of that type, and through the connectors'
paced clients (the configured budget share).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from tickettracker.connectors import build_connectors
from tickettracker.connectors.base import ConfigurationError
from tickettracker.core.config import Settings
from tickettracker.store.extensions import db
from tickettracker.sync.accounts import account_for
from tickettracker.sync.atrisk_set import helpdesk_targets, horizon, linked_jira
from tickettracker.sync.ingest import WriteResult, mark_deleted, write_page
from tickettracker.sync.links import LinkScope
from tickettracker.sync.metrics import record_source
from tickettracker.sync.runner import SyncCounts, SyncOutcome, SyncReporter, tally_text
from tickettracker.sync.typelock import type_lock

WRITE_BATCH = 25


class _Refresh:
    """One at-risk refresh: counts, progress and the two parts."""

    def __init__(self, settings: Settings, reporter: SyncReporter, run_id: str | None = None) -> None:
        self.settings, self.reporter, self.run_id = settings, reporter, run_id
        self.counts, self.stats = SyncCounts(), []
        self.scope = LinkScope.load(settings)
        self.skipped: list[str] = []
        self.account = ""  # the account tag of the rows the current part writes (sync/accounts.py)

    def add(self, result: WriteResult, fetched: int) -> None:
        """Fold one write into the counts."""
        c = self.counts
        c.fetched += fetched
        c.created += result.created
        c.updated += result.updated
        c.deleted += result.deleted
        c.requests = sum(s.requests for s in self.stats)
        c.rate_limit_waits = sum(s.rate_limit_waits for s in self.stats)

    def bound(self, connector: Any) -> bool:
        """Write as the account the source's cursor is bound to; skip a source pointed at another account since."""
        account = account_for(connector.source, connector.cursor_scope())
        if account is None:
            self.reporter.log("info", f"{connector.label} part skipped: its address changed since the last full "
                                      "sync, which has to read the new account first")
            return False
        self.account = account
        return True

    def write(self, source: str, records: list[Any]) -> None:
        """Upsert records (with their links) as rows of the bound account, fenced on the run."""
        self.add(write_page(source, records, None, self.scope, account=self.account, run_id=self.run_id),
                 len(records))

    def gone(self, source: str, ids: list[str]) -> None:
        """Flag ids the vendor no longer has."""
        self.counts.deleted += mark_deleted(source, ids, account=self.account, run_id=self.run_id)

    def figures(self, connector: Any, started: float) -> None:
        """Log a part's requests, credits, waits and retries, and store them with the run (the budget meter's)."""
        stats = connector.stats
        if not stats.requests:
            return
        try:
            self.reporter.log("info", f"{connector.label} at-risk part: {tally_text(stats)}", connector.source)
            if self.run_id is not None:
                record_source(self.run_id, connector.source, stats, time.monotonic() - started,
                              self.settings.rate_limit_share)
        except SQLAlchemyError:
            db.session.rollback()  # the figures are never worth failing the refresh

    def progress(self, message: str) -> None:
        """Report without a percentage (the run is short)."""
        self.reporter.progress(None, message, self.counts)

    def connectors(self, sync_type: str) -> list[Any]:
        """The configured connectors of a type (none is fine: that part is skipped)."""
        found, _ = build_connectors(self.settings, sync_type, log=self.reporter.log)
        self.stats += [connector.stats for connector in found]
        return found

    def helpdesk(self, targets: list[tuple[int, str, str]]) -> None:
        """Read every at-risk ticket again by id (each source while no full Incidents run holds the lock)."""
        with type_lock("Incidents", wait=False) as held:
            if not held:
                self.skipped.append("Incidents")
                self.reporter.log("info", "Helpdesk part skipped: a full Incidents sync is writing these tickets")
                return
            for connector in self.connectors("Incidents"):
                started = time.monotonic()
                try:
                    if self.bound(connector):
                        self._tickets(connector, [ext for _, source, ext in targets if source == connector.source])
                finally:
                    connector.close()
                    self.figures(connector, started)

    def _tickets(self, connector: Any, ids: list[str]) -> None:
        """GET each ticket; write them in small batches, flag the ones that are gone."""
        records, gone = [], []
        for position, ticket_id in enumerate(ids, 1):
            if self.reporter.cancelled():
                break
            item = connector.fetch_ticket(ticket_id)
            if item is None:
                gone.append(ticket_id)
            else:
                records.append(connector.record(item))
            if len(records) >= WRITE_BATCH or position == len(ids):
                self.write(connector.source, records)
                records = []
                self.progress(f"{connector.label}: {position} of {len(ids)} at-risk tickets read")
        if records:  # cancelled mid-batch: keep what was read
            self.write(connector.source, records)
        self.gone(connector.source, gone)

    def jira(self, issues: dict[str, str]) -> None:
        """Read the linked Jira issues by id, a batch per search (while no full JIRA run holds the lock)."""
        with type_lock("JIRA", wait=False) as held:
            if not held:
                self.skipped.append("JIRA")
                self.reporter.log("info", "Jira part skipped: a full JIRA sync is writing these issues")
                return
            for connector in self.connectors("JIRA"):
                started = time.monotonic()
                try:
                    if self.bound(connector):
                        connector._find_sprint_field()
                        self._issues(connector, issues)
                finally:
                    connector.close()
                    self.figures(connector, started)

    def _issues(self, connector: Any, issues: dict[str, str]) -> None:
        """Write each batch; confirm ids a batch did not return with one GET each (404: flagged deleted)."""
        for asked, records in connector.fetch_ids(issues):
            self.write("jira", records)
            returned = {str((r.raw or {}).get("id")) for r in records}
            for ident in (i for i in asked if i not in returned):
                issue = connector.issue(ident)
                record = connector.record(issue) if issue else None
                if record is None:
                    self.gone("jira", [ident])
                else:
                    self.write("jira", [record])
            self.progress(f"Jira: {self.counts.fetched} at-risk items read")


def refresh_at_risk(settings: Settings, reporter: SyncReporter, run_id: str | None = None) -> SyncOutcome:
    """Refresh the at-risk tickets, then the Jira issues linked to them; raise ConfigurationError if nothing is set.

    With run_id, every write is fenced on that run (ingest.fence), like a full sync's.
    """
    if not settings.vendors.configured_sources():
        raise ConfigurationError("No source is configured, so there is nothing to refresh")
    now, window = datetime.now(timezone.utc), horizon(settings)
    refresh = _Refresh(settings, reporter, run_id)
    targets = helpdesk_targets(now, window, settings.sla_refresh_max_items)
    refresh.progress(f"{len(targets)} at-risk tickets (due within {_span(window)} either side of now)")
    refresh.helpdesk(targets)
    still = [row_id for row_id, *_ in helpdesk_targets(now, window, settings.sla_refresh_max_items)]
    issues = linked_jira(still, settings.sla_refresh_max_items)
    if issues and not reporter.cancelled():
        refresh.jira(issues)
    c = refresh.counts
    skipped = f"; skipped while a full run wrote them: {', '.join(refresh.skipped)}" if refresh.skipped else ""
    message = (f"At-risk refresh: {len(targets)} tickets and {len(issues)} linked Jira issues; read {c.fetched}, "
               f"updated {c.updated}, removed {c.deleted}, requests {c.requests}{skipped}")
    return SyncOutcome("cancelled" if reporter.cancelled() else "completed", c, message)


def _span(window: timedelta) -> str:
    """A horizon as '4 h' or '90 min'."""
    minutes = int(window.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
