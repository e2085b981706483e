"""First-run preparation of an instance: default schedules and, in demo mode, the demo admin."""

from __future__ import annotations

from flask import Flask

from tickettracker.sync.schedule import ensure_schedule_rows
from tickettracker.web.auth.demo import demo_admin_lines, first_run_lines


def prepare_instance(app: Flask) -> list[str]:
    """Create what a fresh instance needs; return lines to show the operator."""
    settings = app.extensions["tt_settings"]
    ensure_schedule_rows(settings)
    return demo_admin_lines() if settings.demo_mode else first_run_lines()
