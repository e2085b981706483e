"""The app as an entry point builds it: settings from the environment, embedded PostgreSQL and Valkey for the URLs
that are not set, and logging set up; wsgi.py, the worker, the scheduler and the launcher all go through here."""

from __future__ import annotations

import atexit
import dataclasses
import logging
from typing import Any, Mapping

from flask import Flask

from tickettracker import create_app
from tickettracker.core.config import Settings, load_settings, normalise_database_url
from tickettracker.runtime.embedded import start_postgres, start_redis
from tickettracker.runtime.logs import configure_logging

log = logging.getLogger(__name__)


def with_embedded_services(settings: Settings) -> Settings:
    """Return settings whose missing DATABASE_URL / REDIS_URL point at embedded servers (started if needed)."""
    changes: dict[str, str] = {}
    if settings.database_url is None:
        log.info("DATABASE_URL is not set: using the embedded PostgreSQL under %s", settings.instance_path / "pg")
        changes["database_url"] = normalise_database_url(start_postgres(settings.instance_path))
    if settings.redis_url is None:
        log.info("REDIS_URL is not set: using the embedded Valkey under %s", settings.instance_path / "valkey")
        server = start_redis(settings.instance_path)
        if server.started_here:
            atexit.register(server.stop)
        changes["redis_url"] = server.url
    return dataclasses.replace(settings, **changes)


def build_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app for a process: read the settings, start embedded services for unset URLs, set up logging."""
    settings = with_embedded_services(load_settings(config))
    configure_logging(settings.log_level)
    return create_app(settings)
