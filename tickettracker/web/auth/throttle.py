"""Fixed-window counters in Redis (INCR + EXPIRE): failed sign-ins per username and IP, sync triggers per user."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `count` hits per `window` seconds for one key."""

    name: str
    count: int
    window: int


LOGIN_PER_USERNAME = Limit("login-user", 5, 900)
LOGIN_PER_IP = Limit("login-ip", 20, 900)
SYNC_TRIGGERS_PER_USER = Limit("sync-trigger", 30, 60)


class Throttled(Exception):
    """Too many attempts; `retry_after` says in how many seconds the window ends."""

    def __init__(self, message: str, retry_after: int) -> None:
        """Keep the message and the wait."""
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def _key(limit: Limit, who: str) -> str:
    return f"tickettracker:throttle:{limit.name}:{who.lower()}"


def hit(redis: Redis, limit: Limit, who: str) -> tuple[int, int]:
    """Count one hit; return the count in the current window and the seconds the window has left."""
    key = _key(limit, who)
    try:
        with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, limit.window, nx=True)
            pipe.ttl(key)
            count, _, ttl = pipe.execute()
    except RedisError as exc:  # throttling must not take the site down with Redis: let the request through
        log.warning("throttle %s unavailable: %s", limit.name, exc)
        return 0, 0
    return int(count), int(ttl) if ttl and ttl > 0 else limit.window


def blocked_for(redis: Redis, limit: Limit, who: str) -> int:
    """Return how many seconds `who` must wait because the window is full, or 0."""
    key = _key(limit, who)
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
    except RedisError as exc:
        log.warning("throttle %s unavailable: %s", limit.name, exc)
        return 0
    if count is None or int(count) < limit.count:
        return 0
    return int(ttl) if ttl and ttl > 0 else limit.window


def reset(redis: Redis, limit: Limit, who: str) -> None:
    """Forget the hits of `who` (after a successful sign-in)."""
    try:
        redis.delete(_key(limit, who))
    except RedisError as exc:
        log.warning("throttle %s unavailable: %s", limit.name, exc)


def consume(redis: Redis, limit: Limit, who: str, message: str) -> None:
    """Count one hit and raise Throttled when it goes over the limit."""
    count, ttl = hit(redis, limit, who)
    if count > limit.count:
        raise Throttled(message, ttl)
