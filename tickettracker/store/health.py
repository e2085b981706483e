"""Reachability checks that turn connection failures into one-line messages."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from tickettracker.core.config import mask_url
from tickettracker.store.extensions import db


class ServiceUnavailable(Exception):
    """PostgreSQL or Redis cannot be reached; the message names the URL with its password masked."""


def _reason(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return message[0] if message else exc.__class__.__name__


def check_database(app: Flask) -> None:
    """Run SELECT 1 on the app's database or raise ServiceUnavailable."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    try:
        with app.app_context(), db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - every driver error becomes one line
        raise ServiceUnavailable(f"cannot reach PostgreSQL at {mask_url(url)}: {_reason(exc)}") from None


def check_redis(app: Flask) -> None:
    """PING the app's Redis or raise ServiceUnavailable."""
    url = app.config["REDIS_URL"]
    client = app.extensions.get("tt_redis")
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        raise ServiceUnavailable(f"cannot reach Redis at {mask_url(url)}: {_reason(exc)}") from None


def check_services(app: Flask) -> None:
    """Check both PostgreSQL and Redis."""
    check_database(app)
    check_redis(app)
