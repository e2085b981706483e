"""First-run preparation of an instance: default schedules and, in demo mode, the demo admin and the first syncs."""

from __future__ import annotations

from flask import Flask

from tickettracker.core.vocabulary import DATA_TYPES
from tickettracker.store.extensions import redis_client
from tickettracker.sync.lifecycle import start_sync
from tickettracker.sync.schedule import ensure_schedule_rows
from tickettracker.web.auth.demo import demo_admin_lines, first_run_lines

DEMO_STARTER = "demo start-up"


def prepare_instance(app: Flask) -> list[str]:
    """Create what a fresh instance needs; return lines to show the operator."""
    settings = app.extensions["tt_settings"]
    ensure_schedule_rows(settings)
    if not settings.demo_mode:
        return first_run_lines()
    return demo_admin_lines() + start_demo_syncs()


def start_demo_syncs() -> list[str]:
    """Queue a sync of every type, so the pages a newcomer opens fill by themselves (the worker picks them up)."""
    redis = redis_client()
    for sync_type in DATA_TYPES:
        start_sync(redis, sync_type, trigger="scheduled", requested_by=DEMO_STARTER)
    return [f"demo: a sync of {' and '.join(DATA_TYPES)} is queued; the pages fill as soon as it completes"]
