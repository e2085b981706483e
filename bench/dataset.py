"""Seed the scratch cache with SQL (generate_series), using bench/cockpit.py's dataset so the figures agree."""

from __future__ import annotations

import time
from typing import Any

from .harness import migrate


def seed(app: Any, conninfo: str, tickets: int, issues: int, history_days: int) -> float:
    """Migrate, insert the tickets and issues with SQL, add sync history and KPI snapshots; return seconds."""
    from bench.cockpit import seed as seed_tickets
    from bench.cockpit import seed_history
    from tickettracker.store.extensions import db

    started = time.perf_counter()
    migrate(app)
    seed_tickets(conninfo, tickets, issues)
    seed_history(app, days=history_days, runs=max(50, history_days * 24))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return time.perf_counter() - started
