"""Shared pieces of the sync tests: a simulator per test, fast settings, a recording reporter, cache views."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import pytest
from sqlalchemy import text

from tickettracker.core.config import Settings, get_settings
from tickettracker.store.extensions import db
from tickettracker.sync.runner import SyncCounts, SyncOutcome, run_sync
from vendorsim import VendorSimulator

SIZES = {"freshservice": 60, "freshdesk": 60, "jira": 45}
TYPE_OF = {"freshservice": "Incidents", "freshdesk": "Incidents", "jira": "JIRA"}
OTHER = {"freshservice": "freshdesk", "freshdesk": "freshservice"}
FAST = {"http_timeout": 0.4, "http_max_retries": 4, "http_backoff_seconds": 0.01, "http_backoff_max_seconds": 0.05,
        "http_max_wait_seconds": 5.0, "sync_page_size": 10, "jira_census_every": 1}
# For tests that count requests, credits or retries exactly: a read timeout a busy machine cannot reach, so every
# retry they count is one the simulator was told to cause (FAST's 0.4 s turns a stalled loopback answer into one more).
COUNTED = {"http_timeout": 30.0}


@dataclass
class Recorder:
    """A SyncReporter that keeps everything and can cancel after a number of pages."""

    cancel_after: int | None = None
    events: list[tuple[int | None, str]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    sources: list[str | None] = field(default_factory=list)
    cursors: list[list[tuple[Any, ...]]] = field(default_factory=list)
    snapshot_cursors: bool = False

    def progress(self, percent: int | None, message: str, counts: SyncCounts) -> None:
        """Record progress (and, if asked, the committed cursors at this page boundary)."""
        self.events.append((percent, message))
        if self.snapshot_cursors:
            self.cursors.append(cursor_rows())

    def log(self, level: str, message: str, source: str | None = None) -> None:
        """Record a log line and the source it concerns."""
        self.logs.append((level, message))
        self.sources.append(source)

    def cancelled(self) -> bool:
        """Cancel once cancel_after pages were reported."""
        pages = sum(1 for _, message in self.events if not message.endswith(("starting", "full sync")))
        return self.cancel_after is not None and pages >= self.cancel_after

    def text(self) -> str:
        """Everything reported, as one string (for secret checks)."""
        return "\n".join([m for _, m in self.events] + [m for _, m in self.logs])


@pytest.fixture()
def sim(request: pytest.FixtureRequest) -> Iterator[VendorSimulator]:
    """Small, fast vendor simulator on loopback, one per test (indirect params override its arguments).

    The adversarial profile is on (silent deletions, unstable order among ties, refused workspace list, strict
    issue references, auxiliary calls that fail now and then), except in tests marked `friendly_vendor`: those
    assert exact request counts or orders.
    """
    friendly = request.node.get_closest_marker("friendly_vendor") is not None
    options = {"seed": 7, "sizes": SIZES, "timeout_sleep": 1.0, "adversarial": not friendly,
               **getattr(request, "param", {})}
    simulator = VendorSimulator(**options).start()
    for name in ("freshservice", "freshdesk", "jira"):
        simulator.vendor(name).fault_retry_after = 0
    yield simulator
    stop_quickly(simulator)


def stop_quickly(simulator: VendorSimulator) -> None:
    """Stop the three servers in parallel (each shutdown waits for its poll interval), then clean up."""
    servers = list(getattr(simulator, "_servers", {}).values())
    threads = [threading.Thread(target=server.shutdown) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    simulator.stop()


def make_settings(app: Any, **overrides: Any) -> Settings:
    """The app's settings with fast HTTP policy and small pages (overridable)."""
    return replace(get_settings(app), **{**FAST, **overrides})


@pytest.fixture()
def app_config(app_config: dict[str, str], sim: VendorSimulator) -> dict[str, str]:
    """The test app's settings, pointed at the simulator."""
    return {**app_config, **sim.settings_env()}


@pytest.fixture()
def ctx(app: Any) -> Iterator[Any]:
    """The simulator-backed app with its app context pushed."""
    with app.app_context():
        yield app
        db.session.remove()


def only(settings: Settings, source: str) -> Settings:
    """Settings where the other Incidents source has no credentials (so a sync touches only `source`)."""
    if source == "jira":
        return settings
    blank = {f"{OTHER[source]}_api_key": None}
    return replace(settings, vendors=replace(settings.vendors, **blank))


def sync(settings: Settings, source: str, reporter: Recorder | None = None, full: bool = False) -> SyncOutcome:
    """Run the sync type that covers source."""
    return run_sync(only(settings, source), TYPE_OF[source], reporter or Recorder(), full=full)


def cache_rows(source: str) -> dict[str, dict[str, Any]]:
    """The cached rows of a source's current account by external id, without surrogate id and sync time."""
    rows = db.session.execute(text("SELECT * FROM tickets WHERE source = :s AND "
                                   "hidden_reason IS DISTINCT FROM 'other_account'"), {"s": source}).mappings().all()
    db.session.commit()
    return {row["external_id"]: {k: v for k, v in row.items() if k not in ("id", "synced_at")} for row in rows}


def xmins(source: str) -> dict[str, str]:
    """Row versions (xmin) by external id: unchanged rows keep theirs."""
    rows = db.session.execute(text("SELECT external_id, xmin::text FROM tickets WHERE source = :s "
                                   "AND hidden_reason IS DISTINCT FROM 'other_account'"), {"s": source}).all()
    db.session.commit()
    return dict(rows)


def cursor_rows() -> list[tuple[Any, ...]]:
    """Every stored cursor (source, watermark, state)."""
    rows = db.session.execute(text("SELECT source, watermark, state FROM sync_cursors ORDER BY source")).all()
    db.session.commit()
    return [tuple(row) for row in rows]


def restore_cursors(rows: list[tuple[Any, ...]]) -> None:
    """Put the cursors back to a recorded state."""
    import json

    db.session.execute(text("DELETE FROM sync_cursors"))
    for source, watermark, state in rows:
        db.session.execute(text("INSERT INTO sync_cursors (source, watermark, advanced_at, state) "
                                "VALUES (:s, :w, now(), CAST(:st AS jsonb))"),
                           {"s": source, "w": watermark, "st": json.dumps(state)})
    db.session.commit()


def live_ids(source: str) -> set[str]:
    """External ids the cache shows as neither deleted nor spam."""
    return {key for key, row in cache_rows(source).items() if not row["is_deleted"] and not row["is_spam"]}


def cache_id(vendor: Any, source: str, vendor_id: str) -> str:
    """The cache's external id of a simulator item: Jira rows are keyed by the numeric issue id, not the key."""
    if source != "jira":
        return vendor_id
    item = vendor.store.get(vendor_id)
    return str(item.num) if item is not None else vendor_id


def cache_ids(vendor: Any, source: str, vendor_ids: Any) -> set[str]:
    """cache_id of every given simulator id."""
    return {cache_id(vendor, source, vendor_id) for vendor_id in vendor_ids}


def truth_by_cache_id(vendor: Any, source: str) -> dict[str, dict[str, Any]]:
    """The vendor's live items keyed the way the cache keys them."""
    truth = vendor.truth()
    return {str(item["id"]) if source == "jira" else key: item for key, item in truth.items()}


def jira_row(key: str) -> dict[str, Any]:
    """The cached Jira row of an issue key."""
    return next(row for row in cache_rows("jira").values() if row["external_key"] == key)


def truth_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The part of a vendor item a cache row must agree with."""
    fields = item.get("fields")
    if isinstance(fields, dict):
        return {"updated": fields["updated"], "summary": fields["summary"], "status": fields["status"]["name"]}
    return {"updated": item["updated_at"], "subject": item["subject"], "status": item["status"]}


def assert_matches_truth(sim: VendorSimulator, source: str) -> None:
    """The cache shows exactly the vendor's live items, with their latest content, and flags the rest."""
    vendor = sim.vendor(source)
    truth = truth_by_cache_id(vendor, source)
    rows = cache_rows(source)
    assert live_ids(source) == set(truth)
    for key, item in truth.items():
        assert truth_fields(rows[key]["raw"]) == truth_fields(item), key
        if source == "jira":
            assert rows[key]["external_key"] == item["key"], key
    gone = cache_ids(vendor, source, vendor.deleted_ids() | vendor.spam_ids() | vendor.hidden_ids())
    flagged = {key for key, row in rows.items() if row["is_deleted"] or row["is_spam"]}
    assert flagged == gone & set(rows)
    if source != "jira":
        assert {k for k, r in rows.items() if r["is_spam"]} == vendor.spam_ids() & set(rows)
