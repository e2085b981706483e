"""Blueprints, one per feature: pages, the JSON API, sync triggers and pages, the event stream, sign-in, errors.
Views stay thin: they parse the request and call `sync`, `cockpit` and `store` (never `connectors`).
"""

from __future__ import annotations

from flask import Flask

from tickettracker.web.times import init_times
from tickettracker.web.views import (
    api,
    auth,
    cockpit,
    errors,
    full_resync,
    notify_admin,
    pages,
    stream,
    sync_api,
    sync_pages,
)


def register_blueprints(app: Flask) -> None:
    """Register every blueprint, the error handlers and the time filters."""
    init_times(app)
    app.register_blueprint(cockpit.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sync_api.bp)
    app.register_blueprint(stream.bp)
    app.register_blueprint(sync_pages.bp)
    app.register_blueprint(full_resync.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(notify_admin.bp)
    errors.register(app)
