"""First-run preparation of an instance: default schedules (and, later, the demo admin)."""

from __future__ import annotations

from flask import Flask

from .schedule import ensure_schedule_rows


def prepare_instance(app: Flask) -> list[str]:
    """Create what a fresh instance needs; return lines to show the operator."""
    ensure_schedule_rows(app.extensions["tt_settings"])
    return []
