"""The completeness audit's cost when nothing differs, and how soon a silent deletion leaves the cache.

Runs in its own scratch database and simulator holding the plan's tickets (half Freshservice, half Freshdesk) and
issues. The cache is filled straight from the simulator's truth (a full sync through the simulator's list endpoints
would take hours at this size); then one audit per source runs (audit_source, in this process) and is counted at the
simulator. The rate budget of an hourly schedule is the simulator's configured per-minute limit x 60 for each
vendor: Freshservice and Freshdesk Growth (200 a minute), Jira 100 a minute (Jira Cloud publishes no figure for API
tokens; 100 is the pacer's cautious guess). Then one ticket of each Freshworks source and one Jira issue are deleted
without an updated_at bump and the next audit must remove them.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .harness import BenchError, base_env, make_app, migrate, scratch_database, scratch_redis
from .results import Row

PER_MINUTE = {"freshservice": 200, "freshdesk": 200, "jira": 100}
SHARE_GOAL = 0.02
CHUNK = 5000
JIRA_CENSUS_EVERY = 24  # on an hourly schedule the id-only census runs daily; the count runs every sync


@dataclass
class _Run:
    """The little of a running sync the audit needs (AuditRun)."""

    account: str
    full: bool = False
    census_every: int = JIRA_CENSUS_EVERY
    links: Any = None
    run_id: str | None = None
    audit_share: float = SHARE_GOAL
    audit_skip_minutes: int = 10
    interval_minutes: int = 60
    counts: Any = None
    lines: list[str] = field(default_factory=list)

    def log(self, level: str, message: str) -> None:
        """Keep a log line."""
        self.lines.append(f"{level}: {message}")

    def warn(self, message: str) -> None:
        """Keep a warning."""
        self.log("warning", message)

    def progress(self, percent: int | None, message: str) -> None:
        """Ignore progress."""

    def add(self, connector: Any, result: Any, fetched: int) -> None:
        """Count what the audit wrote."""
        self.counts.created += result.created
        self.counts.updated += result.updated
        self.counts.deleted += result.deleted


def _records(vendor: Any, connector: Any, source: str) -> list[Any]:
    """Cache records of every live item of a simulated vendor, mapped by the connector."""
    truth = vendor.truth()
    if source == "jira":
        return [record for record in (connector.record(item) for item in truth.values()) if record is not None]
    return [connector.record(item) for item in truth.values()]


def _fill(app: Any, sim: Any) -> None:
    """Write the simulator's truth into the cache as rows of each source's account, with bound cursors."""
    from tickettracker.connectors import build_connectors
    from tickettracker.core.config import get_settings
    from tickettracker.store.extensions import db
    from tickettracker.sync.accounts import bind
    from tickettracker.sync.ingest import write_page

    with app.app_context():
        settings = get_settings()
        for sync_type in ("Incidents", "JIRA"):
            connectors, _ = build_connectors(settings, sync_type)
            for connector in connectors:
                _, _, account = bind(connector.source, connector.label, connector.cursor_scope(), None, {},
                                     lambda *a: None, lambda *a: None, None)
                records = _records(sim.vendor(connector.source), connector, connector.source)
                for start in range(0, len(records), CHUNK):
                    write_page(connector.source, records[start:start + CHUNK], None, account=account)
                connector.close()
        db.session.remove()


def _audit_all(app: Any, sim: Any) -> dict[str, tuple[int, float, str]]:
    """One audit per source: {source: (calls the simulator saw, seconds, status)}."""
    from tickettracker.connectors import build_connectors
    from tickettracker.connectors.base import Checkpoint
    from tickettracker.core.config import get_settings
    from tickettracker.store.extensions import db
    from tickettracker.sync.accounts import fingerprint
    from tickettracker.sync.audit import audit_source
    from tickettracker.sync.audit_freshworks import audit_freshworks
    from tickettracker.sync.audit_jira import audit_jira
    from tickettracker.sync.ingest import load_cursor
    from tickettracker.sync.runner import SyncCounts

    found = {}
    with app.app_context():
        settings = replace(get_settings(), jira_census_every=JIRA_CENSUS_EVERY)
        for sync_type in ("Incidents", "JIRA"):
            connectors, _ = build_connectors(settings, sync_type)
            for connector in connectors:
                vendor = sim.vendor(connector.source)
                connector.client.get("/rest/api/3/myself" if connector.source == "jira" else "/api/v2/groups")
                vendor.reset_counts()
                run = _Run(fingerprint(connector.cursor_scope()["address"]), counts=SyncCounts())
                watermark, state = load_cursor(connector.source)
                started = time.perf_counter()
                auditor = audit_jira if connector.source == "jira" else audit_freshworks
                result = audit_source(connector, run, Checkpoint(state, watermark), auditor)
                found[connector.source] = (vendor.request_count(), time.perf_counter() - started, result.status)
                connector.close()
        db.session.remove()
    return found


def _delete_silently(sim: Any) -> dict[str, str]:
    """Delete one long-unchanged item of each vendor without moving updated_at; return {source: cache id}."""
    gone = {}
    for name in ("freshservice", "freshdesk", "jira"):
        vendor = sim.vendor(name)
        vendor.store.bump_on_delete = False
        with vendor.store.lock:
            item = min((i for i in vendor.store.items.values() if i.state == "live"), key=lambda i: i.updated)
        vendor.store.set_state(item.ext_id, vendor.store.factory.delete_state)
        gone[name] = str(item.num) if name == "jira" else item.ext_id
    return gone


def _still_live(app: Any, gone: dict[str, str]) -> list[str]:
    """Which of the deleted items the cache still lists."""
    from sqlalchemy import text

    from tickettracker.store.extensions import db

    with app.app_context():
        live = [source for source, ext in gone.items() if db.session.execute(text(
            "SELECT 1 FROM tickets WHERE source = :s AND external_id = :e AND NOT is_deleted AND NOT is_spam"),
            {"s": source, "e": ext}).first()]
        db.session.remove()
    return live


def measure_audit(tickets: int, issues: int, work: Path | None = None) -> list[Row]:
    """Measurement 10: audit calls and seconds per run at the plan's size; a silent deletion's time to removal."""
    from vendorsim import VendorSimulator

    sizes = {"freshservice": tickets // 2, "freshdesk": tickets - tickets // 2, "jira": issues}
    started = time.perf_counter()
    sim = VendorSimulator(seed=5, sizes=sizes, window_seconds=60.0).start()
    generated = time.perf_counter() - started
    try:
        for name, limit in PER_MINUTE.items():
            sim.vendor(name).set_rate_limit(limit, 60.0)
        with scratch_database() as database_url, scratch_redis() as redis_url:
            instance = (work or Path(tempfile.mkdtemp(prefix="tt-bench-audit-"))) / "audit"
            env = {**base_env(database_url, redis_url, instance), **sim.settings_env(), "SYNC_PAGE_SIZE": "100",
                   "RATE_LIMIT_WINDOW_SECONDS": "60"}
            app = make_app(env)
            migrate(app)
            _fill(app, sim)
            quiet = _audit_all(app, sim)
            gone = _delete_silently(sim)
            removal_started = time.perf_counter()
            after = _audit_all(app, sim)
            removal = time.perf_counter() - removal_started
            left = _still_live(app, gone)
    finally:
        sim.stop()
    broken = [source for source, (_, _, status) in quiet.items() if status != "complete"]
    if broken:
        raise BenchError(f"the audit of an unchanged cache did not end complete for {', '.join(broken)}")
    size = f"{tickets:,} tickets + {issues:,} issues (simulator generated in {generated:.0f} s)"
    rows = []
    for key, source in (("10a", "freshservice"), ("10b", "freshdesk"), ("10c", "jira")):
        calls, seconds, _ = quiet[source]
        budget = PER_MINUTE[source] * 60
        share = calls / budget
        rows.append(Row(key, f"audit of {source}, nothing differs, {size}: calls and seconds per run",
                        f"{calls} calls, {seconds:.1f} s", f"≤ {SHARE_GOAL:.0%} of {budget:,} calls an hour",
                        f"{share:.2%}", share <= SHARE_GOAL))
    calls = sum(found[0] for found in after.values())
    rows.append(Row("10d", "silent deletion (no updated_at bump), one per vendor: removed from the cache by",
                    "the next sync's audit" if not left else f"not removed: {', '.join(left)}",
                    "the next sync", f"{removal:.1f} s, {calls} calls for the three audits", not left))
    return rows
