"""The at-risk refresh end to end: real worker and scheduler processes, the simulator, the web page.

An at-risk ticket changed at the vendor shows its new state on its page within one short cadence, while the hourly
schedule alone would not have read it yet; the refresh stays within the configured share of the vendor's budget.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.live import wait_until
from tests.test_engine_live import _start_stack, _wait_terminal
from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, Ticket
from vendorsim import VendorSimulator
from vendorsim.timeutil import fw_format

pytestmark = pytest.mark.slow

CADENCE = 3  # seconds between at-risk refreshes in this test (5 minutes by default)
LIMIT, WINDOW, SHARE = 20, 2.0, 0.5  # the simulator's Freshdesk budget and the share the sync may use


@pytest.fixture()
def simulator():
    """A small simulator with one Freshdesk ticket due within the hour that mentions a Jira issue."""
    sim = VendorSimulator(seed=7, sizes={"freshservice": 60, "freshdesk": 80, "jira": 60}).start()
    key = sorted(sim.vendor("jira").truth())[0]
    due = fw_format(datetime.now(timezone.utc) + timedelta(minutes=50))
    sim.vendor("freshdesk").edit("5", status=2, due_by=due, subject=f"Checkout failing, waiting on {key}")
    yield sim
    sim.stop()


class RequestRate:
    """Samples a vendor's request count from this process, to find the busiest window of the run."""

    def __init__(self, vendor, window: float) -> None:
        self.vendor, self.window, self.samples = vendor, window, []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stopped.wait(0.05):
            self.samples.append((time.monotonic(), self.vendor.request_count()))

    def __enter__(self) -> RequestRate:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()

    def busiest(self) -> int:
        """The most requests seen inside any window-long span of the samples."""
        best = 0
        for start, first in self.samples:
            inside = [count for moment, count in self.samples if start <= moment <= start + self.window]
            best = max(best, max(inside) - first)
        return best


def _page_of(app, source: str, external_id: str) -> int:
    with app.app_context():
        ticket_id = db.session.scalar(db.select(Ticket.id).where(Ticket.source == source,
                                                                Ticket.external_id == external_id))
        db.session.remove()
        return ticket_id


def _runs(app, sync_type: str) -> list[SyncRun]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(SyncRun).where(SyncRun.type == sync_type)))
        db.session.remove()
        return rows


def test_a_changed_at_risk_ticket_shows_on_its_page_within_one_cadence_within_the_budget_share(
        app, processes, simulator):
    processes.env.update({"SLA_REFRESH_SECONDS": str(CADENCE), "SLA_HORIZON_MINUTES": "240",
                          "SYNC_RATE_LIMIT_SHARE": str(SHARE)})
    fd = simulator.vendor("freshdesk")
    base = _start_stack(processes, simulator, scheduler=True)
    http = processes.admin_session(base)
    for path in ("/api/governance/sync", "/api/jira/sync"):
        run = _wait_terminal(app, http.post(f"{base}{path}", timeout=10).json()["jobId"], timeout=120)
        assert run.status == SyncStatus.COMPLETED, run.error
    page = f"{base}/tickets/{_page_of(app, 'freshdesk', '5')}"
    assert "Waiting on development" in http.get(page, timeout=10).text
    schedules = {s["type"]: s for s in http.get(f"{base}/api/sync/schedules", timeout=10).json()["items"]}
    assert schedules["Incidents"]["intervalMinutes"] == 60 and schedules[AT_RISK]["intervalSeconds"] == CADENCE

    fd.set_rate_limit(LIMIT, window_seconds=WINDOW)
    with RequestRate(fd, WINDOW) as rate:
        fd.edit("5", priority=4, subject="Checkout failing for every customer")
        changed_at = time.monotonic()
        wait_until(lambda: "Checkout failing for every customer" in http.get(page, timeout=10).text,
                   timeout=60, what="the page to show the vendor's change")
        shown_after = time.monotonic() - changed_at
    # the refresh commits the ticket before it records its own end: wait for that record, not for a margin
    wait_until(lambda: any(r.status == SyncStatus.COMPLETED for r in _runs(app, AT_RISK)), timeout=30,
               what="the at-risk refresh that read the change to be recorded as completed")
    assert all(r.trigger == "scheduled" for r in _runs(app, AT_RISK))
    assert shown_after < CADENCE + 10, shown_after  # one cadence, plus the refresh's own (paced) requests
    assert len(_runs(app, "Incidents")) == 1  # the hourly Incidents schedule did not run in the meantime
    assert "Urgent" in http.get(page, timeout=10).text
    assert fd.request_count(status=429) == 0
    assert rate.busiest() <= SHARE * LIMIT + 1, rate.busiest()  # pacing spaces requests to the share
