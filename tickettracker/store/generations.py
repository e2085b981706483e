"""Data generations: one counter per data set (Incidents, JIRA, runs) in Redis, bumped after every commit that
changes what a page shows. Rendered pages are cached under the generations they were rendered from
(web/render_cache.py), so a bump makes every older rendering unreachable at once.

A bump that cannot reach Redis is logged and skipped: the cached renderings then age out by their TTL
(RENDER_CACHE_TTL_SECONDS), and while Redis is down nothing is served from the cache anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from flask import current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError

from tickettracker.core.vocabulary import SYNC_TYPES

log = logging.getLogger(__name__)

INCIDENTS, JIRA, RUNS = "Incidents", "JIRA", "runs"
DATA_SETS = (INCIDENTS, JIRA, RUNS)
KEY = "tt:gen:{}"
_BY_SOURCE = {source: sync_type for sync_type, sources in SYNC_TYPES.items() if sync_type in (INCIDENTS, JIRA)
              for source in sources}


def data_set_of(source: str) -> str:
    """Return the data set a ticket source belongs to ('freshdesk' -> 'Incidents', 'jira' -> 'JIRA')."""
    return _BY_SOURCE[source]


def _client() -> Redis | None:
    """The app's shared Redis client, or None outside an app or without REDIS_URL."""
    if not has_app_context():
        return None
    return current_app.extensions.get("tt_redis")


def bump(*data_sets: str) -> None:
    """Advance the generation of each data set (call it after the commit succeeded); never raises."""
    unknown = set(data_sets) - set(DATA_SETS)
    if unknown:
        raise ValueError(f"unknown data set(s) {sorted(unknown)}; use {DATA_SETS}")
    redis = _client()
    if redis is None or not data_sets:
        return
    try:
        with redis.pipeline(transaction=False) as pipe:
            for name in dict.fromkeys(data_sets):
                pipe.incr(KEY.format(name))
            pipe.execute()
    except RedisError as exc:
        log.warning("could not bump data generation(s) %s: %s", ", ".join(data_sets), exc)


def bump_sources(sources: Iterable[str]) -> None:
    """Advance the generations of the data sets the given ticket sources belong to."""
    bump(*{data_set_of(source) for source in sources})


def current(redis: Redis, data_sets: Sequence[str]) -> tuple[int, ...]:
    """Return the generations of the data sets (0 for one never bumped); raises RedisError when Redis is down."""
    values = redis.mget([KEY.format(name) for name in data_sets])
    return tuple(int(value or 0) for value in values)
