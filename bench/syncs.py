"""Syncs against the rate-limited simulator, run in this process with run_sync: full, no-op re-sync, incremental."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .harness import BenchError, wait_for
from .results import Row, count, median
from .vendors import LIST_PATHS, VENDOR_NAMES, Budget, apply_budget, reset_counts, traffic

TYPES = ("Incidents", "JIRA")
RATIO_GOAL = 1.10
STATS_SQL = ("SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
             "WHERE relname = 'tickets' AND schemaname = 'public'")


@dataclass
class Reporter:
    """A SyncReporter that keeps the log lines and never cancels."""

    lines: list[str] = field(default_factory=list)

    def progress(self, percent: int | None, message: str, counts: Any) -> None:
        """Ignore progress."""

    def log(self, level: str, message: str, source: str | None = None) -> None:
        """Keep a log line."""
        self.lines.append(f"{level}: {message}")

    def cancelled(self) -> bool:
        """Never cancel."""
        return False


def sync_all(app: Any, full: bool) -> float:
    """Run an Incidents then a JIRA sync to completion; return the wall time in seconds."""
    from tickettracker.core.config import get_settings
    from tickettracker.store.extensions import db
    from tickettracker.sync.runner import run_sync

    started = time.perf_counter()
    with app.app_context():
        for sync_type in TYPES:
            outcome = run_sync(get_settings(), sync_type, Reporter(), full=full)
            if outcome.status != "completed":
                raise BenchError(f"{sync_type} sync ended {outcome.status}: {outcome.message}")
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds


def empty_cache(conninfo: str) -> None:
    """Forget every cached item and cursor so the next sync starts from nothing."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE ticket_links, tickets, sync_cursors")


def measure_full(app: Any, conninfo: str, sim: Any, budget: Budget, rounds: int) -> list[Row]:
    """Full syncs into an empty cache: wall time against the floor the vendors' budgets allow."""
    walls, seen = [], []
    for _ in range(rounds):
        empty_cache(conninfo)
        limits = apply_budget(sim, budget)
        reset_counts(sim)
        walls.append(sync_all(app, full=True))
        seen.append(traffic(sim, limits, budget))
    ratio = median([wall / t.floor for wall, t in zip(walls, seen, strict=True)])
    items = sum(sim.vendor(name).stats()["items"] for name in VENDOR_NAMES)
    where = (f"{items:,} items, window {budget.window:g} s, share {budget.share:g}, "
             f"one list call per {budget.pace:g} s, {rounds} runs")
    return [Row("5a", f"full sync Incidents + JIRA ({where}): wall vs rate-limit floor",
                f"wall {median(walls):.1f} s; floor {median([t.floor for t in seen]):.1f} s",
                f"≤ {RATIO_GOAL:.2f}× floor", f"{ratio:.2f}× floor", ratio <= RATIO_GOAL),
            Row("5b", "full sync: requests made (credits spent)",
                f"{count(median([t.requests for t in seen]))} ({count(median([t.credits for t in seen]))} credits)"),
            Row("5c", "full sync: 429 responses received", count(median([t.throttled for t in seen])), "0",
                ok=median([t.throttled for t in seen]) == 0)]


def _counters(conninfo: str) -> tuple[int, int, int]:
    """Read (inserted, updated, HOT-updated) tuples of `tickets` from the statistics views."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        found = conn.execute(STATS_SQL).fetchone()
    return tuple(found) if found else (0, 0, 0)


def flushed_counters(app: Any, conninfo: str) -> tuple[int, int, int]:
    """Flush this process's pending table statistics (ask, then close the backends) and read them once stable."""
    from sqlalchemy import text

    from tickettracker.store.extensions import db

    with app.app_context():
        db.session.execute(text("SELECT pg_stat_force_next_flush()"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    last: list[tuple[int, int, int]] = []

    def stable() -> tuple[int, int, int] | None:
        """Return the counters when two reads half a second apart agree."""
        last.append(_counters(conninfo))
        return last[-1] if len(last) > 2 and last[-1] == last[-2] else None

    return wait_for(stable, timeout=20, what="table statistics to settle", interval=0.5)


def _rewritten(app: Any, conninfo: str) -> tuple[int, ...]:
    """Run one full re-sync and return its (inserted, updated, HOT-updated) delta on `tickets`."""
    before = flushed_counters(app, conninfo)
    sync_all(app, full=True)
    after = flushed_counters(app, conninfo)
    return tuple(b - a for a, b in zip(before, after, strict=True))


def measure_noop(app: Any, conninfo: str, sim: Any, budget: Budget, rounds: int) -> list[Row]:
    """Full re-syncs with no vendor change: `tickets` rows inserted or updated (goal 0 in every run)."""
    apply_budget(sim, budget)
    deltas = [_rewritten(app, conninfo) for _ in range(rounds)]
    inserted, updated, hot = (round(median([delta[i] for delta in deltas])) for i in range(3))
    worst = max(delta[0] + delta[1] for delta in deltas)
    return [Row("8", f"rows rewritten by a no-op full re-sync ({rounds} runs; pg_stat_user_tables delta on tickets)",
                f"{inserted + updated:,} (ins {inserted:,}, upd {updated:,}, HOT {hot:,}; worst run {worst:,})",
                "0", "—" if worst == 0 else f"{worst:,} rows", worst == 0)]


def _change(sim: Any, share: float) -> dict[str, set[str]]:
    """Apply random changes (update, create, delete, spam) to `share` of each vendor's items; return their ids."""
    changed = {}
    for name in VENDOR_NAMES:
        vendor = sim.vendor(name)
        changed[name] = set(vendor.mutate(max(1, round(vendor.stats()["items"] * share))))
    return changed


def _list_calls(sim: Any) -> int:
    """Return the list calls (ticket lists, issue searches) in the vendors' logs."""
    return sum(sim.vendor(name).request_count(path_contains=LIST_PATHS[name]) for name in VENDOR_NAMES)


def _incremental_round(app: Any, sim: Any, share: float, recent: dict[str, set[str]]) -> tuple[int, int]:
    """Change `share` of the items, sync incrementally; return (items changed now, list calls made)."""
    changed = _change(sim, share)
    for name, ids in changed.items():
        recent[name] |= ids  # earlier rounds' changes are still inside the overlap the sync re-reads
    reset_counts(sim)
    sync_all(app, full=False)
    return sum(len(ids) for ids in changed.values()), _list_calls(sim)


def measure_incremental(app: Any, sim: Any, budget: Budget, rounds: int, share: float = 0.01) -> list[Row]:
    """Change 1% of every vendor's items and sync incrementally, `rounds` times; list calls against the bound."""
    from tickettracker.core.config import get_settings

    settings = get_settings(app)
    page, overlap = settings.sync_page_size, settings.sync_overlap_seconds
    passes = {"freshservice": 3 * max(1, len(settings.vendors.freshservice_workspaces)), "freshdesk": 3, "jira": 1}
    apply_budget(sim, budget)
    recent: dict[str, set[str]] = {name: set() for name in VENDOR_NAMES}
    first, calls, bounds, changed = time.monotonic(), [], [], 0
    for _ in range(rounds):
        changed, made = _incremental_round(app, sim, share, recent)
        if time.monotonic() - first > overlap:
            raise BenchError("the incremental rounds outlasted SYNC_OVERLAP_SECONDS; the bound no longer applies")
        calls.append(made)
        bounds.append(sum(math.ceil(len(recent[name]) / page) + passes[name] for name in VENDOR_NAMES))
    ratio = median([c / b for c, b in zip(calls, bounds, strict=True)])
    return [Row("6", f"incremental sync after 1% changed ({changed} items a run, {rounds} runs; a run re-reads "
                     f"earlier runs' changes too, as they fall in the {overlap} s overlap)",
                f"{median(calls):.0f} list calls", f"≤ ⌈changed ÷ {page}⌉ + passes per vendor (= {median(bounds):.0f})",
                f"{ratio:.2f}× bound", all(c <= b for c, b in zip(calls, bounds, strict=True)))]
