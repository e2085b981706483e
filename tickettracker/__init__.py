"""Ticket Tracker: a governance cockpit over a PostgreSQL cache of helpdesk and Jira items.

The package root owns create_app(config), the pure app factory: it wires each layer's init function (store
extensions, web security, templating, auth and blueprints, the sync hooks, the runtime CLI) onto a Flask app and
starts nothing. It may import every layer; no layer imports it (the entry points and the tests do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from tickettracker.cockpit.snapshots import snapshot_after_sync
from tickettracker.core.config import ConfigError, Settings, get_settings, load_settings
from tickettracker.runtime.cli import register_cli
from tickettracker.store.extensions import db, init_redis, migrate
from tickettracker.sync.jobs import AFTER_SYNC_HOOKS
from tickettracker.web.auth import init_auth
from tickettracker.web.security import init_security
from tickettracker.web.templating import init_templating
from tickettracker.web.views import register_blueprints

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the application from settings (or overrides of the environment's): extensions, blueprints, CLI.

    Pure: it starts no service and leaves global logging alone; the entry points (runtime.services.build_app) do."""
    settings = config if isinstance(config, Settings) else load_settings(config)
    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url)):
        if value is None:
            raise ConfigError(f"{name} is not set (runtime.services.build_app starts an embedded server for it)")
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
