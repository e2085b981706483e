"""Calls per at-risk refresh: 500 at-risk Jira issues (batched by id) and the helpdesk tickets linking them.

Runs in its own scratch database and simulator: a few Freshdesk tickets due within the hour mention 500 Jira keys
between them; after full syncs, one refresh (refresh_at_risk, in this process) is counted at the simulator.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .harness import BenchError, base_env, make_app, migrate, scratch_database, scratch_redis
from .results import Row
from .syncs import Reporter

ISSUES = 500
TICKETS = 5
BATCH = 100  # FETCH_BY_ID: issues per `id in (...)` search with fields


def _link_tickets(sim, keys: list[str]) -> list[str]:
    """Make TICKETS Freshdesk tickets open, due within the hour, and mention the keys between them."""
    from vendorsim.timeutil import fw_format

    due = fw_format(datetime.now(timezone.utc) + timedelta(minutes=45))
    ids = [str(n) for n in range(1, TICKETS + 1)]
    per = math.ceil(len(keys) / TICKETS)
    for index, ticket in enumerate(ids):
        mentioned = " ".join(keys[index * per:(index + 1) * per])
        sim.vendor("freshdesk").edit(ticket, status=2, due_by=due, description_text=f"Blocked by {mentioned}")
    return ids


def _refresh(app) -> tuple[int, int, str]:
    """Sync everything, then count the requests of one at-risk refresh per vendor."""
    from tickettracker.core.config import get_settings
    from tickettracker.store.extensions import db
    from tickettracker.sync.atrisk import refresh_at_risk
    from tickettracker.sync.runner import run_sync

    with app.app_context():
        settings = replace(get_settings(), sla_refresh_max_items=ISSUES + TICKETS)
        for sync_type in ("JIRA", "Incidents"):
            outcome = run_sync(settings, sync_type, Reporter(), full=True)
            if outcome.status != "completed":
                raise BenchError(f"{sync_type} sync ended {outcome.status}: {outcome.message}")
        app.extensions["bench_sim"].vendor("jira").reset_counts()
        app.extensions["bench_sim"].vendor("freshdesk").reset_counts()
        outcome = refresh_at_risk(settings, Reporter())
        db.session.remove()
    sim = app.extensions["bench_sim"]
    return sim.vendor("jira").request_count(), sim.vendor("freshdesk").request_count(), outcome.message


def measure_atrisk(work: Path | None = None) -> list[Row]:
    """Measurement 9: calls of one at-risk refresh for 500 linked Jira issues and 5 helpdesk tickets."""
    from vendorsim import VendorSimulator

    sim = VendorSimulator(seed=9, sizes={"freshservice": 20, "freshdesk": 40, "jira": ISSUES + 20}).start()
    try:
        with scratch_database() as database_url, scratch_redis() as redis_url:
            instance = (work or Path(tempfile.mkdtemp(prefix="tt-bench-atrisk-"))) / "atrisk"
            env = {**base_env(database_url, redis_url, instance), **sim.settings_env(),
                   "FRESHSERVICE_API_KEY": "", "SYNC_PAGE_SIZE": "100"}
            keys = sorted(sim.vendor("jira").truth())[:ISSUES]
            _link_tickets(sim, keys)
            app = make_app(env)
            migrate(app)
            app.extensions["bench_sim"] = sim
            jira_calls, helpdesk_calls, message = _refresh(app)
    finally:
        sim.stop()
    if f"{ISSUES} linked Jira issues" not in message:
        raise BenchError(f"the refresh did not cover {ISSUES} linked issues: {message}")
    goal = math.ceil(ISSUES / BATCH) + 2
    return [Row("9a", f"at-risk refresh: Jira calls for {ISSUES} linked issues", f"{jira_calls}",
                f"≤ {goal} (⌈{ISSUES}/{BATCH}⌉ + 2)", f"{jira_calls / goal:.2f}", jira_calls <= goal),
            Row("9b", f"at-risk refresh: Freshdesk calls for {TICKETS} at-risk tickets",
                f"{helpdesk_calls} ({TICKETS} by id + {helpdesk_calls - TICKETS} per run)",
                "— (no multi-id read in the API)")]
