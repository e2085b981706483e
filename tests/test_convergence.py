"""Convergence: whatever the vendors do between syncs, the next sync and its audit leave the cache equal to them.

The simulator runs its adversarial profile (deletions and spam without an updated_at bump, unstable order among
ties, a refused workspace list, strict issue references, auxiliary calls that fail now and then) with lagging search
and an approximate Jira count. Seeded random rounds, each a mix of creates, updates, deletions, spam, restores, bulk
updates sharing one second, Jira moves and projects that lose visibility, Freshdesk archiving, injected faults and,
in some rounds, a real RQ worker killed with SIGKILL mid-sync. After every round a clean sync of each type runs and
the cache must show exactly the vendors' live items, with their subjects and statuses. CONVERGENCE_SEED replays a
run; CONVERGENCE_ROUNDS sets its length.
"""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any, Iterator

import pytest
from sqlalchemy import text

from tests.live import wait_until
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.sync import lifecycle, runs
from tickettracker.sync.runner import run_sync
from vendorsim import VendorSimulator
from vendorsim.store import ADVERSARIAL_KINDS

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, make_settings, stop_quickly, truth_by_cache_id

app_config, ctx = fx.app_config, fx.ctx  # fixtures used by this module
pytestmark = pytest.mark.slow  # starts and kills worker processes

ROUNDS = int(os.environ.get("CONVERGENCE_ROUNDS", "30"))
KILL_EVERY = 6  # about one round in six has its sync's worker killed
SEARCH_LAG = 0.4  # seconds the Freshworks filter/search and Jira search lag behind writes
FAULTS = ("500", "503", "429", "truncated", "reset")
FAULT_PATHS = {"freshservice": ("/api/v2/tickets", "/api/v2/tickets/filter", "/api/v2/workspaces"),
               "freshdesk": ("/api/v2/tickets", "/api/v2/search/tickets"),
               "jira": ("/search/jql", "approximate-count", "/issue/", "/project")}
KINDS = ADVERSARIAL_KINDS + ("restore", "archive")  # each vendor applies those it knows
TYPES = ("Incidents", "JIRA")
PAGE_SIZE = 10  # the worker and this process page alike: a round a killed worker began is resumed page by page


@pytest.fixture()
def seed() -> int:
    """The run's seed: CONVERGENCE_SEED, else a new one (the failure message names it)."""
    return int(os.environ.get("CONVERGENCE_SEED") or random.SystemRandom().randrange(1, 10**6))


@pytest.fixture()
def sim(seed: int) -> Iterator[VendorSimulator]:
    """A small adversarial simulator so that a round takes about a second."""
    simulator = VendorSimulator(seed=11, sizes={"freshservice": 40, "freshdesk": 40, "jira": 30}, timeout_sleep=0.5,
                                adversarial=True, adversarial_seed=seed).start()
    for name in ("freshservice", "freshdesk", "jira"):
        vendor = simulator.vendor(name)
        vendor.fault_retry_after = 0
        vendor.set_consistency_delay(SEARCH_LAG)
        vendor.store.tie_burst_size = 25  # more than a page, small enough for a quick round
    simulator.vendor("jira").approximate_error = 0.1
    yield simulator
    stop_quickly(simulator)


def test_the_cache_converges_on_every_vendor_after_random_rounds(ctx, sim, processes, seed):
    rng = random.Random(seed)
    settings = make_settings(ctx, http_max_retries=6, audit_skip_minutes=0, sync_page_size=PAGE_SIZE)
    _start_worker(processes, sim)
    round_no = 0
    try:
        for _type in TYPES:
            run_sync(settings, _type, Recorder())
        for round_no in range(1, ROUNDS + 1):
            _disturb(sim, rng)
            if round_no % KILL_EVERY == 0:
                _killed_sync(ctx, processes, sim, rng)
            else:
                for sync_type in rng.sample(TYPES, rng.randint(1, 2)):  # changes may pile up over rounds
                    outcome = run_sync(settings, sync_type, Recorder())
                    assert outcome.status == "completed", outcome.message
            for name in ("freshservice", "freshdesk", "jira"):
                sim.vendor(name).clear_faults()
            time.sleep(SEARCH_LAG)  # search has caught up with every write of the round
            for sync_type in TYPES:
                outcome = run_sync(settings, sync_type, Recorder())
                assert outcome.status == "completed", outcome.message
            for source in ("freshservice", "freshdesk", "jira"):
                _assert_converged(sim, source)
    except AssertionError as error:
        raise AssertionError(f"convergence failed in round {round_no} of seed {seed} (replay with "
                             f"CONVERGENCE_SEED={seed}): {error}") from error


def _disturb(sim: VendorSimulator, rng: random.Random) -> None:
    """One round of vendor activity: changes of every kind (deletions silent), sometimes faults."""
    for name in ("freshservice", "freshdesk", "jira"):
        sim.vendor(name).mutate(rng.randint(1, 6), seed=rng.randrange(10**9), kinds=KINDS)
    if rng.random() < 0.6:
        name = rng.choice(sorted(FAULT_PATHS))
        sim.vendor(name).inject(rng.choice(FAULTS), count=rng.randint(1, 3),
                                path_contains=rng.choice(FAULT_PATHS[name]), after=rng.randint(0, 4))


def _start_worker(processes: Any, sim: VendorSimulator) -> None:
    """One real RQ worker process for the rounds that kill one."""
    processes.env.update(sim.settings_env())
    processes.env.update({"SYNC_PAGE_SIZE": str(PAGE_SIZE), "SYNC_HEARTBEAT_SECONDS": "2",
                          "RATE_LIMIT_WINDOW_SECONDS": "2", "AUDIT_SKIP_MINUTES": "0", "SYNC_MAX_RETRIES": "0"})
    processes.start_worker(processes=1)


def _killed_sync(app: Any, processes: Any, sim: VendorSimulator, rng: random.Random) -> None:
    """Start a sync on the worker, SIGKILL it once it has committed a page, declare the run lost, restart it."""
    sync_type = rng.choice(TYPES)
    names = ("jira",) if sync_type == "JIRA" else ("freshservice", "freshdesk")
    for name in names:
        sim.vendor(name).set_rate_limit(20, window_seconds=2)  # slow enough to be caught mid-sync
    run_id = lifecycle.start_sync(redis_client(), sync_type).job_id
    try:
        wait_until(lambda: _run(run_id).fetched > 0 or _run(run_id).status != SyncStatus.RUNNING and
                   _run(run_id).status != SyncStatus.QUEUED, timeout=60, what="a committed page")
    finally:
        processes.kill("worker", signal.SIGKILL)
        for name in names:
            sim.vendor(name).set_rate_limit(None)
    runs.finish(run_id, SyncStatus.FAILED, "Failed: worker lost", error="the worker was killed")  # as recover() does
    processes.start_worker(processes=1)


def _run(run_id: str) -> Any:
    """The run row, fresh."""
    run = runs.get_run(run_id)
    db.session.commit()
    return run


def _assert_converged(sim: VendorSimulator, source: str) -> None:
    """Live ids, subjects and statuses of the cache equal the vendor's (archived Freshdesk tickets aside)."""
    vendor = sim.vendor(source)
    truth = truth_by_cache_id(vendor, source)
    rows = db.session.execute(text(
        "SELECT external_id, subject, raw FROM tickets WHERE source = :s AND NOT is_deleted AND NOT is_spam"),
        {"s": source}).all()
    db.session.commit()
    # Freshdesk archives closed tickets: they vanish from the API and stay cached as last seen, by design
    archived = vendor.archived_ids() if source == "freshdesk" else set()
    cached = {ext: (subject, _status(raw)) for ext, subject, raw in rows if ext not in archived}
    wanted = {ext: (_subject(item), _status(item)) for ext, item in truth.items()}
    assert set(cached) == set(wanted), (f"{source}: missing {sorted(set(wanted) - set(cached))}, "
                                        f"extra {sorted(set(cached) - set(wanted))}")
    differing = {ext: (cached[ext], wanted[ext]) for ext in wanted if cached[ext] != wanted[ext]}
    assert not differing, f"{source}: subject or status differs: {differing}"


def _subject(item: dict[str, Any]) -> str:
    """A vendor item's subject (Jira: the summary)."""
    fields = item.get("fields")
    return str(fields["summary"] if isinstance(fields, dict) else item["subject"])


def _status(item: dict[str, Any]) -> Any:
    """A vendor item's status (Jira: the status name)."""
    fields = item.get("fields")
    return fields["status"]["name"] if isinstance(fields, dict) else item["status"]
