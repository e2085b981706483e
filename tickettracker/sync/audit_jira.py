"""The Jira completeness audit: approximate-count per project in scope against the cache, then the census.

Jira's count is approximate by its own account, so it only decides whether to look closer: on any difference (and
every JIRA_CENSUS_EVERY syncs, and on every full sync) the id-only census (census.py) lists every id in scope,
fetches what the cache lacks and looks up each cached id Jira no longer lists before it leaves the live lists. A
finished census is the proof: the audit is complete with the census's own count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tickettracker.connectors.base import Checkpoint
from tickettracker.connectors.jira_census import CENSUS_PAGE
from tickettracker.store.extensions import db
from tickettracker.sync.audit import LIVE, AuditResult, AuditRun, Budget, live_count
from tickettracker.sync.census import maybe_census

PROJECT_COUNTS_SQL = text(
    "SELECT project, count(*) FROM tickets WHERE source = :s AND account = :a "  # noqa: S608  # nosec B608
    f"AND {LIVE} GROUP BY project")


def audit_jira(connector: Any, run: AuditRun, last: Checkpoint, budget: Budget, result: AuditResult) -> None:
    """Count per project, compare, take the census when it differs or is due, and record what was proven."""
    projects = list(connector.config.projects)
    budget.take(max(1, len(projects)))
    vendor = connector.counts(projects)
    cached = _cache_counts(connector.source, run.account, projects)
    result.slices_checked = len(vendor)
    result.vendor_count = sum(vendor.values())
    differs = [name for name in vendor if vendor[name] != cached.get(name, 0)]
    before = run.counts.created + run.counts.updated + run.counts.deleted
    fits = budget.left() >= _census_calls(live_count(connector.source, run.account), connector.cloud)
    report = maybe_census(connector, run, last, force=bool(differs) and fits)
    if report.ran and report.finished:
        result.vendor_count = report.listed
    elif differs:
        result.status = "differs"
        why = ("the census could not settle it" if report.ran else
               "the census that settles it runs next sync" if fits else
               "the census that settles it does not fit this run's share of the rate budget")
        result.notes.append(f"Jira's count differs in {', '.join(differs[:5])}; {why}")
    result.repaired = run.counts.created + run.counts.updated + run.counts.deleted - before
    result.cache_count = live_count(connector.source, run.account)


def _cache_counts(source: str, account: str, projects: list[str]) -> dict[str, int]:
    """Live cached issues per project key (or "*" for all of them when no project is configured)."""
    try:
        rows = {str(project): int(count) for project, count in
                db.session.execute(PROJECT_COUNTS_SQL, {"s": source, "a": account})}
    finally:
        db.session.rollback()
    return {name: rows.get(name, 0) for name in projects} if projects else {"*": sum(rows.values())}


def _census_calls(cached: int, cloud: bool) -> int:
    """The searches a census of about this many issues takes."""
    size = CENSUS_PAGE["cloud" if cloud else "datacenter"]
    return cached // size + 2
