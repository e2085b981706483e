"""Ticket Tracker: a governance cockpit over a PostgreSQL cache of helpdesk and Jira items."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from .config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, CLI. Nothing runs at import time."""
    settings = load_settings(config)
    if settings.database_url is None or settings.redis_url is None:
        from .embedded import fill_in_embedded

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
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin on every start

    from .extensions import db, init_redis, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    init_redis(app)

    from .auth import init_auth
    from .security import init_security

    init_security(app)
    init_auth(app)

    from .views import register_blueprints

    register_blueprints(app)

    from .cli import register_cli

    register_cli(app)
    return app


def get_settings(app: Flask | None = None) -> Settings:
    """Return the Settings of the given (or current) app."""
    if app is None:
        from flask import current_app

        app = current_app
    return app.extensions["tt_settings"]
