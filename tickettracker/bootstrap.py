"""First-run preparation of an instance: default schedules (and, later, the demo admin)."""

from __future__ import annotations

from flask import Flask


def prepare_instance(app: Flask) -> list[str]:
    """Create what a fresh instance needs; return lines to show the operator."""
    return []
