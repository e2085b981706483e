"""Data generations: one counter per data set (Incidents, JIRA, runs, users) in Redis, bumped after every commit
that changes what a page shows. Rendered pages are cached under the generations they were rendered from
(web/render_cache.py), so a bump makes every older rendering unreachable at once; the users generation does the same
for the signed-in users each web process keeps (web/auth/users.py).

A signed-in page request reads every generation once, in the same round trip as its session check
(`remember_for_request`), and uses those figures throughout (`for_request`): they are read before any data is, so a
page rendered from newer data than its generation says is re-rendered at the next bump, never the other way round.

A bump that cannot reach Redis is logged and skipped: the cached renderings then age out by their TTL
(RENDER_CACHE_TTL_SECONDS), and while Redis is down nothing is served from the cache anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from flask import current_app, has_app_context, has_request_context, request
from redis import Redis
from redis.exceptions import RedisError

from tickettracker.core.vocabulary import SAFE_METHODS, SYNC_TYPES

log = logging.getLogger(__name__)

INCIDENTS, JIRA, RUNS, USERS = "Incidents", "JIRA", "runs", "users"
DATA_SETS = (INCIDENTS, JIRA, RUNS, USERS)
KEY = "tt:gen:{}"
KEYS = tuple(KEY.format(name) for name in DATA_SETS)
_SEEN = "tickettracker.generations"  # where a request keeps the generations it read (its WSGI environ: per request,
# unlike flask.g, which lives as long as the app context and so can span requests)
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


def remember_for_request(values: Sequence[bytes | str | None]) -> None:
    """Keep the generations read with MGET of KEYS (in the session check's round trip) for this read-only request."""
    if has_request_context() and request.method in SAFE_METHODS:
        request.environ[_SEEN] = {name: int(value or 0) for name, value in zip(DATA_SETS, values, strict=True)}


def for_request(redis: Redis, data_sets: Sequence[str]) -> tuple[int, ...]:
    """Return the generations of the data sets as this request saw them first (one read per read-only request; a
    request that may write reads them afresh each time). Raises RedisError when Redis is down."""
    if not has_request_context() or request.method not in SAFE_METHODS:
        return current(redis, data_sets)
    known = request.environ.get(_SEEN)
    if known is None:
        known = request.environ[_SEEN] = dict(zip(DATA_SETS, current(redis, DATA_SETS), strict=True))
    return tuple(known[name] for name in data_sets)


def for_request_known(name: str) -> int | None:
    """Return the generation of one data set if this request read it already, else None."""
    if not has_request_context():
        return None
    known = request.environ.get(_SEEN)
    return None if known is None else known[name]
