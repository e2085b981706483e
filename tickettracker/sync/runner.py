"""Run one sync of a type: connector pages → upsert + cursor in one transaction per page; no request state."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol

import psycopg
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from tickettracker.connectors import LABELS, REQUIRED, build_connectors, sources_of
from tickettracker.connectors.base import (
    CensusConnector,
    Checkpoint,
    ConfigurationError,
    Connector,
    SyncCancelled,
    SyncError,
    TransientSyncError,
)
from tickettracker.connectors.meter import PassObserver, PassTally, Tally
from tickettracker.core.config import Settings
from tickettracker.core.redaction import Redactor
from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import SYNC_TYPES
from tickettracker.store.extensions import db
from tickettracker.sync.accounts import bind
from tickettracker.sync.audit import audit_source
from tickettracker.sync.audit_freshworks import audit_freshworks
from tickettracker.sync.audit_jira import audit_jira
from tickettracker.sync.census import maybe_census
from tickettracker.sync.changes import ChangeScope, database_now, last_run_start, sweep_overdue
from tickettracker.sync.ingest import StaleAttempt, WriteResult, load_cursor, write_page
from tickettracker.sync.links import LinkScope, read_remote_links
from tickettracker.sync.metrics import record_source


@dataclass
class SyncCounts:
    """Running totals of one sync."""

    fetched: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0
    rate_limit_waits: int = 0
    retries: int = 0


@dataclass
class SyncOutcome:
    """How a sync ended (errors are raised instead)."""

    status: str  # "completed" | "cancelled"
    counts: SyncCounts
    message: str
    skipped_sources: list[str] = field(default_factory=list)


log = logging.getLogger(__name__)
AUDITORS = {"freshservice": audit_freshworks, "freshdesk": audit_freshworks, "jira": audit_jira}
MESSAGE_LIMIT = 1500  # the run's outcome message, warnings included
WARNING_LIMIT = 500  # one warning, cut after redaction
LOG_LIMIT = 2000  # one log line, cut after redaction


class SyncReporter(Protocol):
    """Where a sync reports progress and asks whether to stop."""

    def progress(self, percent: int | None, message: str, counts: SyncCounts) -> None:
        """Report progress; percent None means the vendor gives no total (the message says so)."""

    def log(self, level: str, message: str, source: str | None = None) -> None:
        """Record a log line (retries, waits, passes, skipped sources); source names the vendor it concerns."""

    def cancelled(self) -> bool:
        """Return True when the sync should stop at the next page boundary."""


@dataclass
class _Run:
    """State shared by the steps of one sync."""

    reporter: SyncReporter
    redact: Redactor
    counts: SyncCounts
    full: bool
    census_every: int
    part: tuple[int, int] = (0, 1)
    base: SyncCounts = field(default_factory=SyncCounts)
    links: LinkScope | None = None
    remote_links_limit: int = 0
    warnings: list[str] = field(default_factory=list)
    audit_share: float = 0.0  # AUDIT_RATE_SHARE: 0 = no completeness audit (a Jira census still runs when due)
    audit_skip_minutes: int = 10
    interval_minutes: int = 60  # the type's schedule interval: the audit's budget is a share of it
    account: str = ""  # the account tag of the rows the current source writes (sync/accounts.py)
    run_id: str | None = None  # the sync run every write is fenced on (ingest.fence)
    changes: ChangeScope | None = None  # with a run: classify what each page changes (sync/changes.py)
    started: datetime | None = None  # the database's clock when the run began writing
    source: str | None = None  # the source being synced: its log lines are grouped under it
    share: float = 0.5  # SYNC_RATE_LIMIT_SHARE, stored with each source's figures
    source_started: float = 0.0  # time.monotonic() when the current source began

    def log(self, level: str, message: str) -> None:
        """Log through the reporter, redacted, tagged with the source being synced."""
        self.reporter.log(level, self.redact(message, LOG_LIMIT), self.source)

    def observe(self, label: str) -> PassObserver:
        """A pass observer for one connector's stats: a line when a pass starts, its figures when it ends."""
        def observer(event: str, tally: PassTally) -> None:
            """Log the start (with its cursor) or the end (figures and cursor) of a pass."""
            if event == "start":
                self.log("info", f"{tally.name}: starting from {tally.started_from}")
            else:
                ended = "ended at" if tally.finished else "stopped early, last at"
                self.log("info", f"{tally.name}: {tally_text(tally)}; started from {tally.started_from}, "
                                 f"{ended} {tally.ended_at}")
        return observer

    def warn(self, message: str) -> None:
        """Log a warning that the run's outcome repeats (an auxiliary step failed; the sync went on)."""
        self.warnings.append(self.redact(message, WARNING_LIMIT))
        self.log("warning", message)

    def add(self, connector: Connector, result: WriteResult, fetched: int) -> None:
        """Fold one page's results and the connector's HTTP counters into the totals."""
        c, stats = self.counts, connector.stats
        c.fetched += fetched
        c.created += result.created
        c.updated += result.updated
        c.deleted += result.deleted
        c.requests = self.base.requests + stats.requests
        c.retries = self.base.retries + stats.retries
        c.rate_limit_waits = self.base.rate_limit_waits + stats.rate_limit_waits

    def progress(self, percent: int | None, message: str) -> None:
        """Report progress scaled to this source's share of the sync, redacted."""
        index, total = self.part
        overall = None if percent is None else int((index * 100 + percent) / total)
        self.reporter.progress(overall, self.redact(message), self.counts)


def run_sync(settings: Settings, sync_type: str, reporter: SyncReporter, *, full: bool = False,
             run_id: str | None = None) -> SyncOutcome:
    """Sync every configured source of the type; raise ConfigurationError or TransientSyncError on failure.

    With run_id, every write is fenced on that sync run: once the run is no longer Running (declared lost and
    retried), the next write is refused and StaleAttempt ends this attempt.
    """
    sources = sources_of(sync_type)
    run = _Run(reporter, settings.vendors.redactor(), SyncCounts(), full, settings.jira_census_every,
               links=LinkScope.load(settings), remote_links_limit=settings.jira_remote_links_per_run,
               run_id=run_id, audit_share=settings.audit_rate_share, share=settings.rate_limit_share,
               audit_skip_minutes=settings.audit_skip_minutes, interval_minutes=_interval(settings, sync_type))
    if run_id is not None:
        run.changes, run.started = ChangeScope(last_run_start(sync_type, run_id)), database_now()
    connectors, skipped = build_connectors(settings, sync_type, log=run.log, sleep=_cancellable_sleep(reporter))
    if not connectors:
        needed = "; ".join(REQUIRED[source] for source in sources)
        raise ConfigurationError(f"No {sync_type} source is configured: set {needed}")
    for source in skipped:
        run.log("info", f"{LABELS[source]} skipped: {REQUIRED[source]} not set")
    try:
        for index, connector in enumerate(connectors):
            run.part = (index, len(connectors))
            if reporter.cancelled() or not _sync_source(connector, run):
                return _outcome("cancelled", run, skipped)
    finally:
        for connector in connectors:
            connector.close()
    return _outcome("completed", run, skipped)


def _interval(settings: Settings, sync_type: str) -> int:
    """The schedule interval (minutes) of a sync type named in any case."""
    for name in SYNC_TYPES:
        if name.lower() == str(sync_type).lower():
            return settings.sync_interval(name)
    return 60


def _cancellable_sleep(reporter: SyncReporter, slice_seconds: float = 0.25) -> Callable[[float], None]:
    """A sleep for backoff and pacing that gives up (SyncCancelled) as soon as a cancel is requested."""
    def sleep(seconds: float) -> None:
        """Sleep in short slices, checking for a cancel between them."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if reporter.cancelled():
                raise SyncCancelled()
            time.sleep(min(left, slice_seconds))

    return sleep


def _outcome(status: str, run: _Run, skipped: list[str]) -> SyncOutcome:
    """Build the outcome and its one-line summary."""
    c = run.counts
    verb = "completed" if status == "completed" else "cancelled; committed pages are kept"
    message = (f"Sync {verb}: fetched {c.fetched}, created {c.created}, updated {c.updated}, deleted {c.deleted}, "
               f"requests {c.requests}, rate-limit waits {c.rate_limit_waits}")
    if skipped:
        message += f" ({', '.join(LABELS[s] for s in skipped)} skipped: not configured)"
    if run.warnings:
        count = len(run.warnings)
        message += f". {count} warning{'s' if count > 1 else ''}: " + " ".join(run.warnings)
    return SyncOutcome(status, c, message[:MESSAGE_LIMIT], list(skipped))


def tally_text(tally: Tally) -> str:
    """The figures of a pass or a source in one phrase."""
    text = (f"{tally.pages:,} pages, {tally.items:,} items, {tally.requests:,} requests, "
            f"{tally.credits:,} credits, {tally.rate_limit_waits:,} rate-limit waits")
    if tally.waited_seconds:
        text += f" ({tally.waited_seconds:.1f} s waited in all)"
    return text + f", {tally.retries:,} retries"


def _sync_source(connector: Connector, run: _Run) -> bool:
    """Sync one source page by page; False when cancelled."""
    run.base = SyncCounts(**vars(run.counts))
    run.source, run.source_started = connector.source, time.monotonic()
    connector.stats.observer = run.observe(connector.label)
    changed: list[str] = []  # issues read in this run, whose remote links are read after the pages
    started_from = ended_at = "not read"
    try:
        watermark, state = load_cursor(connector.source)
        watermark, state, run.account = bind(connector.source, connector.label, connector.cursor_scope(),
                                             watermark, state, run.log, run.warn, run.run_id)
        last = Checkpoint(state, watermark)
        started_from = ended_at = _watermark_text(watermark)
        run.progress(0, f"{connector.label}: starting{' full sync' if run.full else ''}")
        for page in connector.pages(state, watermark, run.full):
            written = write_page(connector.source, page.records, page.checkpoint, run.links,
                                 account=run.account, run_id=run.run_id, changes=run.changes)
            run.add(connector, written, len(page.records))
            changed.extend(record.external_id for record in page.records if hasattr(connector, "remote_links"))
            last = page.checkpoint or last
            ended_at = _watermark_text(last.watermark)
            run.progress(page.percent, f"{connector.label}: {page.label}")
            if run.reporter.cancelled():
                return False
        if run.links is not None and changed:
            _remote_links(connector, changed, run)
        if run.audit_share > 0 and connector.source in AUDITORS:
            audit_source(connector, run, last, AUDITORS[connector.source])
        elif isinstance(connector, CensusConnector):
            maybe_census(connector, run, last)
        if run.run_id is not None and run.changes is not None and run.started is not None:
            sweep_overdue(connector.source, run.account, run.run_id, run.changes.since, run.started)
    except SyncCancelled:
        return False
    except StaleAttempt as stale:
        run.log("warning", str(stale))
        raise
    except SyncError as error:
        raise type(error)(run.redact(str(error)), source=connector.source) from None
    except (OperationalError, psycopg.OperationalError) as error:
        raise TransientSyncError(f"PostgreSQL failed while syncing {connector.label} ({type(error).__name__}); "
                                 "every page committed so far is kept, retry later", source=connector.source) from None
    finally:
        run.add(connector, WriteResult(), 0)  # requests made after the last page count too
        run.warnings.extend(run.redact(text, WARNING_LIMIT) for text in connector.warnings.items)
        _close_source(connector, run, started_from, ended_at)
    run.progress(100, f"{connector.label}: done")
    return True


def _watermark_text(watermark: datetime | None) -> str:
    """A source's cursor as the log shows it."""
    return f"watermark {iso_utc(watermark)}" if watermark is not None else "the beginning (no cursor yet)"


def _close_source(connector: Connector, run: _Run, started_from: str, ended_at: str) -> None:
    """End a pass a failure or a cancel interrupted, log the source's figures and store them, stop observing.

    Runs while a failure may be on its way out: a database that fails here only costs these lines and figures.
    """
    stats = connector.stats
    try:
        if stats.current is not None:
            stats.end_pass("where it stopped (nothing after the last committed page is kept)", finished=False)
        run.log("info", f"{connector.label} in all: {tally_text(stats)}; cursor from {started_from} to {ended_at}")
        if run.run_id is not None:
            record_source(run.run_id, connector.source, stats, time.monotonic() - run.source_started, run.share)
    except (SQLAlchemyError, psycopg.Error) as error:
        db.session.rollback()
        log.warning("%s: the run's figures for %s could not be stored (%s)", run.run_id, connector.label,
                    type(error).__name__)
    finally:
        stats.current = None
        stats.observer = None
        run.source = None


def _remote_links(connector: Connector, changed: list[str], run: _Run) -> None:
    """Read the remote links of the issues this run changed; a failure is a warning (they are read next time)."""
    try:
        read_remote_links(connector, changed, run.links, run.remote_links_limit, run.log, run.account)
    except SyncError as error:
        run.warn(f"{connector.label}: reading remote issue links failed. {error} The pages read are kept.")
