"""Who has the app open: one entry per open event stream in a Redis sorted set shared by every web process.

Each member is "<username>\\x1f<stream id>", scored with the time it expires; the process's stream keeper refreshes
it every heartbeat and the stream removes it when it closes. An entry whose process died without closing its
stream expires by itself: readers drop every member whose score has passed."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

WATCHERS_KEY = "tickettracker:watchers"
ENTRY_TTL_SECONDS = 45.0  # three stream heartbeats
_SEP = "\x1f"


@dataclass(frozen=True)
class Presence:
    """The open streams per user name."""

    streams: dict[str, int]

    @property
    def people(self) -> int:
        """How many different users have the app open."""
        return len(self.streams)


class Watch:
    """One open event stream's entry."""

    def __init__(self, redis: Redis, username: str) -> None:
        """Name the entry (the user's name and a fresh stream id)."""
        self.redis, self.member = redis, f"{username}{_SEP}{uuid.uuid4().hex}"

    def beat(self, now: float | None = None) -> None:
        """Add or refresh the entry; a Redis outage only loses the count for a while."""
        try:
            self.redis.zadd(WATCHERS_KEY, {self.member: (now or time.time()) + ENTRY_TTL_SECONDS})
        except RedisError:
            pass

    def leave(self) -> None:
        """Remove the entry when the stream closes."""
        try:
            self.redis.zrem(WATCHERS_KEY, self.member)
        except RedisError:
            pass


def presence(redis: Redis, now: float | None = None) -> Presence | None:
    """Return the open streams per user (expired entries dropped first), or None while Redis is unreachable."""
    moment = now or time.time()
    try:
        pipe = redis.pipeline()
        pipe.zremrangebyscore(WATCHERS_KEY, "-inf", moment)
        pipe.zrangebyscore(WATCHERS_KEY, moment, "+inf")
        _, members = pipe.execute()
    except RedisError:
        return None
    names = (m.decode() if isinstance(m, bytes) else m for m in members)
    return Presence(dict(sorted(Counter(name.partition(_SEP)[0] for name in names).items())))
