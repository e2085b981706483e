"""The checked start of the worker and scheduler processes: build the app, then make sure its services answer."""

from __future__ import annotations

import sys

from flask import Flask

from tickettracker.core.config import ConfigError
from tickettracker.runtime.services import build_app
from tickettracker.store.health import ServiceUnavailable, check_services


def checked_app() -> Flask | None:
    """Build the app and check its services; print a one-line error and return None when that fails."""
    try:
        app = build_app()
        check_services(app)
    except (ConfigError, ServiceUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return app
