"""The completeness audit after every sync: does the cache hold exactly what each vendor shows?

Per source, the audit compares the cache's live count with the vendor's own count and repairs what differs:
Freshservice and Freshdesk by creation-day slices of their filter/search endpoints (audit_freshworks.py), Jira by
approximate-count per project and, on a difference, the id-only census (audit_jira.py). Every audit spends at most
AUDIT_RATE_SHARE of the vendor's rate budget over one schedule interval and is recorded (sync_audits) with what it
checked, so pages can say "complete as of 14:05 — 12,340 of 12,340". An audit that fails is a warning on the run,
never a failed sync (the sync's pages are committed already), and the next sync audits again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import text

from tickettracker.connectors.base import Checkpoint, SyncError
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncAudit
from tickettracker.sync.census import CensusRun

ASSUMED_PER_MINUTE = 100  # a vendor that publishes no budget (Jira Cloud): the cautious guess the pacer makes too
LIVE = "NOT is_deleted AND NOT is_spam"


class AuditRun(CensusRun, Protocol):
    """What the audit needs from the running sync: what the census needs, and the audit's budget and window."""

    audit_share: float
    audit_skip_minutes: int
    interval_minutes: int


class BudgetSpent(Exception):  # noqa: N818 - a signal to stop, like SyncCancelled
    """The audit used up its share of the rate budget; what is left waits for the next sync's audit."""


class Budget:
    """The vendor calls one audit may make, measured on the connector's request counter."""

    def __init__(self, connector: Any, allowed: int) -> None:
        """Start counting from the connector's requests so far."""
        self.connector, self.allowed = connector, allowed
        self.start = connector.stats.requests

    @property
    def spent(self) -> int:
        """Calls made since the audit began (retries included)."""
        return self.connector.stats.requests - self.start

    def left(self) -> int:
        """Calls the audit may still make."""
        return self.allowed - self.spent

    def take(self, calls: int = 1) -> None:
        """Make room for the next calls, or raise BudgetSpent."""
        if self.spent + calls > self.allowed:
            raise BudgetSpent()


def allowed_calls(connector: Any, share: float, interval_minutes: int) -> int:
    """share x the vendor's per-minute budget x the schedule interval (an hour when the schedule is off)."""
    per_minute = connector.budget_per_minute() or ASSUMED_PER_MINUTE
    return int(share * per_minute * (interval_minutes or 60))


@dataclass
class AuditResult:
    """What one audit of one source checked and found."""

    status: str = "complete"  # complete | differs | failed
    cache_count: int | None = None
    vendor_count: int | None = None
    slices_checked: int = 0
    repaired: int = 0
    calls: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self, label: str) -> str:
        """One log line: "Freshdesk audit: complete, 12,340 of 12,340; 3 slices, 2 repaired, 5 calls, 0.4 s"."""
        counts = (f", {self.cache_count:,} of {self.vendor_count:,}"
                  if self.cache_count is not None and self.vendor_count is not None else "")
        notes = f" ({'; '.join(self.notes)})" if self.notes else ""
        return (f"{label} audit: {self.status}{counts}; {self.slices_checked} slices checked, {self.repaired} "
                f"repaired, {self.calls} calls, {self.seconds:.1f} s{notes}")


def audit_source(connector: Any, run: AuditRun, last: Checkpoint, auditor: Any) -> AuditResult:
    """Run one source's audit (auditor(connector, run, last, budget, result)), log and record it; a vendor failure
    or a spent budget ends it early, as a warning, never as a failed sync."""
    began = time.monotonic()
    budget = Budget(connector, allowed_calls(connector, run.audit_share, run.interval_minutes))
    result = AuditResult()
    run.progress(None, f"{connector.label}: auditing completeness")
    try:
        auditor(connector, run, last, budget, result)
    except BudgetSpent:
        result.status = "differs"
        result.notes.append(f"its share of the rate budget ({budget.allowed} calls) is spent; the next sync's "
                            "audit goes on")
    except SyncError as error:
        result.status = "failed"
        result.notes.append(str(error).rstrip("."))
        run.warn(f"{connector.label}: the completeness audit failed. {error} The pages read are kept; the next sync "
                 "audits again.")
    result.calls, result.seconds = budget.spent, time.monotonic() - began
    run.log("info", result.summary(connector.label))  # a failure was warned about above; a difference is not one
    record(connector.source, run, result)
    return result


def record(source: str, run: AuditRun, result: AuditResult) -> None:
    """Store the audit's result in its own transaction."""
    try:
        db.session.add(SyncAudit(run_id=run.run_id, source=source, account=run.account, status=result.status,
                                 cache_count=result.cache_count, vendor_count=result.vendor_count,
                                 slices_checked=result.slices_checked, repaired=result.repaired, calls=result.calls,
                                 duration_ms=int(result.seconds * 1000), message="; ".join(result.notes)[:1000]))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    generations.bump(generations.RUNS)  # the trackers' and the dashboard's completeness stamps read the audits


def live_count(source: str, account: str, where: str = "", params: dict[str, Any] | None = None) -> int:
    """The cache's live rows of a source's account (optionally narrowed by a constant SQL condition)."""
    try:
        return int(db.session.execute(text(
            f"SELECT count(*) FROM tickets WHERE source = :s AND account = :a AND {LIVE}"  # noqa: S608  # nosec B608
            f"{' AND ' + where if where else ''}"), {"s": source, "a": account, **(params or {})}).scalar() or 0)
    finally:
        db.session.rollback()
