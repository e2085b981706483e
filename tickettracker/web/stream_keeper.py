"""The bookkeeping of every open event stream of one web process, done for all of them at once.

An open stream holds a slot in its user's and its session's sets (web/stream_slots.py) and an entry in the set of
who has the app open (web/presence.py), and it must end when its session is ended or its user disabled. Done per
stream, that is three Redis round trips and a user check per stream and heartbeat: at 10,000 streams, thousands of
calls a second that delay every event. Instead, each web process keeps one `StreamKeeper`: once per heartbeat it
renews every slot and presence entry, checks every distinct session (and reads the users generation) in pipelined
batches, and checks each distinct user once (web/auth/users.py keeps them per process). A stream whose session or
user is gone is marked ended and woken, so it says `signed-out` at once. While Redis does not answer, every stream
is ended (fail closed, as sessions are).

The keeper's thread (a greenlet under gevent) runs while the process has open streams and stops when the last one
closes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError

from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.web.auth.sessions import session_key
from tickettracker.web.presence import ENTRY_TTL_SECONDS, WATCHERS_KEY
from tickettracker.web.stream_slots import SLOT_SECONDS

log = logging.getLogger(__name__)

BATCH = 500  # streams per pipeline; the process serves other requests between batches


@dataclass(eq=False)
class KeptStream:
    """One open stream as the keeper sees it: its slot, its presence entry, its session and user, and a way to
    wake it when it must end."""

    slot_keys: tuple[str, ...]
    slot_member: str
    watch_member: str
    sid: str
    user_id: int
    wake: Callable[[], None]
    ended: bool = field(default=False)


class StreamKeeper:
    """Renews and checks the open streams of this process, all at once, every `interval()` seconds."""

    def __init__(self, app: Flask, redis: Redis, still_active: Callable[[int, int | None], bool],
                 interval: Callable[[], float]) -> None:
        """Keep what a round needs: the app (for its database session), Redis, the user check and the cadence."""
        self.app, self.redis, self.still_active, self.interval = app, redis, still_active, interval
        self.streams: set[KeptStream] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, stream: KeptStream) -> None:
        """Keep a newly opened stream (its connect already took its slot and checked its session)."""
        with self.lock:
            self.streams.add(stream)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="sse-keeper", daemon=True)
                self.thread.start()

    def remove(self, stream: KeptStream) -> None:
        """Forget a closed stream."""
        with self.lock:
            self.streams.discard(stream)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval())
            with self.lock:
                if not self.streams:
                    self.thread = None
                    return
                streams = list(self.streams)
            try:
                self.keep(streams)
            except Exception:  # noqa: BLE001 - the keeper must outlive a bad round; the next one retries
                log.exception("event stream bookkeeping failed")

    def keep(self, streams: list[KeptStream]) -> None:
        """One round: renew every slot and presence entry, check every session and user, end the streams whose
        session or user is gone (all of them while Redis does not answer)."""
        try:
            alive, users = self._renew_and_check(streams)
        except RedisError as exc:
            log.warning("event streams end: their sessions cannot be checked while Redis is unreachable (%s)", exc)
            self._end([s for s in streams if not s.ended])
            return
        active = self._active_users({s.user_id for s in streams if alive.get(s.sid)}, users)
        self._end([s for s in streams if not s.ended and not (alive.get(s.sid) and active.get(s.user_id))])

    def _renew_and_check(self, streams: list[KeptStream]) -> tuple[dict[str, bool], int]:
        now = time.time()
        sids = sorted({s.sid for s in streams})
        alive: dict[str, bool] = {}
        for start in range(0, len(streams), BATCH):
            part = streams[start:start + BATCH]
            slots: dict[str, dict[str, float]] = {}  # one ZADD per key for all its streams in the batch
            for stream in part:
                for key in stream.slot_keys:
                    slots.setdefault(key, {})[stream.slot_member] = now + SLOT_SECONDS
            with self.redis.pipeline(transaction=False) as pipe:
                for key, members in slots.items():
                    pipe.zadd(key, members, xx=True)
                    pipe.expire(key, SLOT_SECONDS)
                pipe.zadd(WATCHERS_KEY, {stream.watch_member: now + ENTRY_TTL_SECONDS for stream in part})
                pipe.execute()
            time.sleep(0)  # let the process serve others between batches
        for start in range(0, len(sids), BATCH):
            batch = sids[start:start + BATCH]
            with self.redis.pipeline(transaction=False) as pipe:
                for sid in batch:
                    pipe.exists(session_key(sid))
                found = pipe.execute()
            alive.update(zip(batch, (bool(n) for n in found), strict=True))
            time.sleep(0)
        users = int(self.redis.get(generations.KEY.format(generations.USERS)) or 0)
        return alive, users

    def _active_users(self, user_ids: set[int], generation: int) -> dict[int, bool]:
        with self.app.app_context():
            try:
                return {user_id: self.still_active(user_id, generation) for user_id in user_ids}
            finally:
                db.session.remove()

    @staticmethod
    def _end(streams: list[Any]) -> None:
        for stream in streams:
            stream.ended = True
            stream.wake()
