"""The census step of a sync, for sources whose deletions leave no trace (Jira).

List every id the vendor shows, fetch what the cache lacks, and look up each cached id the vendor no longer lists
before it leaves the live lists: deleted (counted), no longer visible or out of scope (shown as such, not counted).
The census is auxiliary: when it fails, the run logs a warning, keeps its committed pages and tries again next run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from tickettracker.connectors.base import Checkpoint, Recheck, SyncError
from tickettracker.sync.ingest import WriteResult, census_diff, mark_deleted, mark_hidden, write_page

RECHECK_LIMIT = 500  # direct look-ups per run; the rest wait for the next run's census
FLUSH_EVERY = 100
STATE_WORDS = {"deleted": "deleted", "not_visible": "no longer visible", "out_of_scope": "out of scope",
               "live": "still there"}


class CensusRun(Protocol):
    """What the census needs from the running sync."""

    full: bool
    census_every: int
    counts: Any
    links: Any
    account: str
    run_id: str | None

    def log(self, level: str, message: str) -> None:
        """Record a log line."""

    def warn(self, message: str) -> None:
        """Record a warning for the run's outcome."""

    def progress(self, percent: int | None, message: str) -> None:
        """Report progress."""

    def add(self, connector: Any, result: WriteResult, fetched: int) -> None:
        """Fold a write into the run's counts."""


@dataclass(frozen=True)
class CensusReport:
    """What a census step did: whether a census ran and finished, and how many ids Jira listed."""

    ran: bool = False
    finished: bool = False
    listed: int = 0


def maybe_census(connector: Any, run: CensusRun, last: Checkpoint, force: bool = False) -> CensusReport:
    """Every census_every runs, on full syncs and when forced (the audit saw a difference) take a census; a failed
    or unfinished one stays due."""
    state = dict(last.state)
    due = int(state.get("runs_since_census") or 0) + 1
    report = CensusReport()
    if force or run.full or due >= run.census_every:
        try:
            report = census(connector, run)
        except SyncError as error:
            run.warn(f"{connector.label}: the census could not finish. {error} The pages read so far are kept; "
                     "the census runs again next sync.")
            report = CensusReport(ran=True)
        due = 0 if report.finished else due
    state["runs_since_census"] = due
    mark_deleted(connector.source, [], Checkpoint(state, last.watermark), account=run.account, run_id=run.run_id)
    return report


def census(connector: Any, run: CensusRun) -> CensusReport:
    """Take one census; finished is False when look-ups were left for the next run."""
    run.progress(None, f"{connector.label}: checking for deleted issues (id-only census)")
    present = connector.census()
    missing, refetch = census_diff(connector.source, present, run.account)
    for records in connector.fetch(refetch):
        run.add(connector, _write(connector, run, records), len(records))
    checked = dict(list(missing.items())[:RECHECK_LIMIT])
    if not present and missing:
        run.warn(f"{connector.label}: the census listed no issue at all while {len(missing)} are cached; only those "
                 "in projects the account can no longer see leave the lists, the others are kept as they are.")
    tally = apply_rechecks(connector, run, connector.recheck(checked, look_up=bool(present)))
    left = len(missing) - len(checked)
    summary = ", ".join(f"{tally[state]} {STATE_WORDS[state]}" for state in STATE_WORDS if tally[state])
    run.log("info", f"{connector.label} census: {len(present)} issues; {len(missing)} no longer listed"
                    f"{' (' + summary + ')' if summary else ''}; {len(refetch)} fetched again"
                    f"{f'; {left} left for the next run' if left else ''}")
    return CensusReport(ran=True, finished=left == 0, listed=len(present))


def apply_rechecks(connector: Any, run: CensusRun, rechecks: Iterable[Recheck]) -> dict[str, int]:
    """Store what the look-ups found, a batch at a time (a failure keeps the batches already stored)."""
    tally: dict[str, int] = defaultdict(int)
    batch: list[Recheck] = []
    for recheck in rechecks:
        batch.append(recheck)
        tally[recheck.state] += 1
        if len(batch) >= FLUSH_EVERY:
            _store(connector, run, batch)
            batch = []
    _store(connector, run, batch)
    return tally


def _store(connector: Any, run: CensusRun, batch: list[Recheck]) -> None:
    """Write one batch: live records upserted, deletions counted, hidden rows flagged with their reason."""
    by_state: dict[str, list[str]] = defaultdict(list)
    for recheck in batch:
        by_state[recheck.state].append(recheck.external_id)
    records = [recheck.record for recheck in batch if recheck.state == "live" and recheck.record is not None]
    if records:
        run.add(connector, _write(connector, run, records), len(records))
    run.counts.deleted += mark_deleted(connector.source, by_state["deleted"], account=run.account,
                                       run_id=run.run_id)
    for reason in ("not_visible", "out_of_scope"):
        if by_state[reason]:
            mark_hidden(connector.source, by_state[reason], reason, account=run.account, run_id=run.run_id)


def _write(connector: Any, run: CensusRun, records: list[Any]) -> WriteResult:
    """Upsert records the census found, as rows of the run's account, fenced on the run."""
    return write_page(connector.source, records, None, run.links, account=run.account, run_id=run.run_id)
