"""Caps on open event streams: per user and per session (counted in Redis), and per web process (counted here).

One account, or one stolen cookie, must not take every connection a web process can hold. Each open stream holds
a slot in two Redis sorted sets (the user's and the session's), scored by when the slot lapses; the process's
stream keeper (web/stream_keeper.py) renews it every heartbeat, the stream gives it back when the connection
closes, and a slot whose process died lapses by itself. The per-process count caps what one process accepts in all,
below its connection pool, so page requests still get through."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

SLOT_SECONDS = 60  # a slot not renewed for this long lapses (the stream keeper renews it every heartbeat)


class StreamRefused(Exception):
    """No slot: `status` is 429 (this user or session holds too many) or 503 (this process is full)."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        """Keep the answer to give."""
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


@dataclass(frozen=True)
class StreamLimits:
    """How many streams one user, one session and one web process may hold open."""

    per_user: int
    per_session: int
    per_process: int


class ProcessStreams:
    """The streams open in this web process."""

    def __init__(self) -> None:
        self.lock, self.count = threading.Lock(), 0

    def take(self, cap: int) -> None:
        """Count one more stream, or raise StreamRefused (503) when the process holds `cap` already."""
        with self.lock:
            if self.count >= cap:
                raise StreamRefused(503, f"This server holds its maximum of {cap} live-update connections; "
                                         "the page retries by itself.", 5)
            self.count += 1

    def give_back(self) -> None:
        """Count one stream fewer."""
        with self.lock:
            self.count = max(0, self.count - 1)


def _user_key(user_id: int) -> str:
    return f"tickettracker:streams:user:{user_id}"


def _session_key(sid: str) -> str:
    return f"tickettracker:streams:session:{sid}"


class StreamSlot:
    """One stream's slot in its user's and its session's sets."""

    def __init__(self, redis: Redis, user_id: int, sid: str) -> None:
        self.redis, self.keys, self.member = redis, (_user_key(user_id), _session_key(sid)), secrets.token_hex(8)

    def take(self, limits: StreamLimits) -> None:
        """Hold a slot, or raise StreamRefused (429) when the user or the session holds its maximum already.

        Raises RedisError when Redis is down: the stream is refused then (sessions cannot be checked either)."""
        now = time.time()
        with self.redis.pipeline(transaction=True) as pipe:
            for key in self.keys:
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.zadd(key, {self.member: now + SLOT_SECONDS})
                pipe.zcard(key)
                pipe.expire(key, SLOT_SECONDS)
            results = pipe.execute()
        user_count, session_count = results[2], results[6]
        over = (("user", limits.per_user) if user_count > limits.per_user
                else ("session", limits.per_session) if session_count > limits.per_session else None)
        if over is not None:
            self.give_back()
            who, cap = over
            raise StreamRefused(429, f"Too many live-update connections for this {who} (at most {cap}); close "
                                     "some tabs, or wait for closed ones to be noticed.", SLOT_SECONDS // 2)

    def give_back(self) -> None:
        """Free the slot (the connection closed)."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for key in self.keys:
                    pipe.zrem(key, self.member)
                pipe.execute()
        except RedisError:
            pass  # it lapses by itself within SLOT_SECONDS
