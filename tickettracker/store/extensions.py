"""Extension holders, bound to an app only through init_app."""

from __future__ import annotations

from flask import Flask, current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from redis import BlockingConnectionPool, Redis
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


REDIS_POOL_SIZE = 500  # connections one process may open; more concurrent callers wait for one
REDIS_POOL_WAIT_SECONDS = 10.0


def make_redis(url: str, *, socket_timeout: float | None = 10.0) -> Redis:
    """Return a Redis client for the URL (bytes in and out, as RQ needs). Its pool blocks rather than fails when
    every connection is busy: a web process serving thousands of event streams has bursts of callers."""
    pool = BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_POOL_WAIT_SECONDS,
                                           socket_timeout=socket_timeout, socket_connect_timeout=5,
                                           health_check_interval=30)
    return Redis(connection_pool=pool)


def init_redis(app: Flask) -> None:
    """Attach the shared Redis client to the app."""
    url = app.config["REDIS_URL"]
    app.extensions["tt_redis"] = make_redis(url) if url else None


def redis_client() -> Redis:
    """Return the app's Redis client."""
    client = current_app.extensions.get("tt_redis")
    if client is None:
        raise RuntimeError("REDIS_URL is not configured")
    return client
