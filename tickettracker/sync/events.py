"""SyncStatusUpdated events: publish to a capped Redis Stream, replay after an id, fan out per process."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from tickettracker.store.extensions import make_redis
from tickettracker.store.models import SyncRun
from tickettracker.store.serialize import run_json

log = logging.getLogger(__name__)

STREAM_KEY = "tickettracker:events"
STREAM_MAXLEN = 1000
EVENT_NAME = "SyncStatusUpdated"
VERSION_KEY = "tickettracker:event-version:{}"  # the last version of a run that was published
VERSION_TTL_SECONDS = 7 * 24 * 3600
_PUBLISH_IF_NEWER = """
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if last >= tonumber(ARGV[1]) then return false end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'data', ARGV[4])
"""


def publish(redis: Redis, payload: dict[str, Any]) -> str:
    """Append an event to the capped stream and return its id (ids always increase)."""
    event_id = redis.xadd(STREAM_KEY, {"data": json.dumps(payload)}, maxlen=STREAM_MAXLEN, approximate=True)
    return event_id.decode() if isinstance(event_id, bytes) else event_id


def publish_run(redis: Redis, run: SyncRun, **extra: Any) -> str | None:
    """Publish a run's JSON (plus `extra`) unless a newer or equal version of it was published; return the event id.

    Two processes can publish the same run at once (the web's "Cancelling…" and the worker's "Cancelled", the web's
    "Queued" and the worker's "Running"): the later XADD must not show an older state to every browser for good.
    A Redis outage is logged, never raised (PostgreSQL holds the truth)."""
    try:
        event_id = redis.register_script(_PUBLISH_IF_NEWER)(
            keys=[STREAM_KEY, VERSION_KEY.format(run.id)],
            args=[int(run.version), VERSION_TTL_SECONDS, STREAM_MAXLEN, json.dumps(run_json(run, **extra))])
    except RedisError as exc:
        log.warning("could not publish sync event for %s: %s", run.id, exc)
        return None
    return event_id.decode() if isinstance(event_id, bytes) else event_id


def _decode(entries: Iterable[tuple[Any, dict[Any, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for raw_id, fields in entries:
        event_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        data = fields.get(b"data") or fields.get("data")
        out.append((event_id, json.loads(data)))
    return out


def parse_id(event_id: str) -> tuple[int, int]:
    """Turn a stream id like '1795915074163-0' into a comparable (ms, seq) tuple; raise ValueError if malformed."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def replay(redis: Redis, last_id: str, limit: int = STREAM_MAXLEN) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """Return the events after last_id and whether some may have been trimmed away since."""
    parse_id(last_id)
    entries = _decode(redis.xrange(STREAM_KEY, min=f"({last_id}", max="+", count=limit))
    first = redis.xrange(STREAM_KEY, min="-", max="+", count=1)
    gap = bool(first) and parse_id(_decode(first)[0][0]) > parse_id(last_id) and not _contains(redis, last_id)
    return entries, gap


def _contains(redis: Redis, event_id: str) -> bool:
    return bool(redis.xrange(STREAM_KEY, min=event_id, max=event_id, count=1))


def latest_id(redis: Redis) -> str:
    """Return the id of the newest event, or '0-0' when there is none."""
    last = redis.xrevrange(STREAM_KEY, max="+", min="-", count=1)
    return _decode(last)[0][0] if last else "0-0"


class Subscription:
    """One open stream's place in its process's hub: the number of the last event it took."""

    def __init__(self, hub: Hub, seen: int) -> None:
        self.hub, self.seen = hub, seen

    def get_all(self, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        """Return every event the hub received since this stream last asked (possibly none, when the stream was
        woken to look at its state), waiting at most `timeout` seconds; raise queue.Empty when nothing happened."""
        self.seen, items = self.hub.wait_after(self.seen, timeout)
        return items

    def take_new(self) -> list[tuple[str, dict[str, Any]]]:
        """Return the events the hub received since this stream last asked, at once (no wait, no greenlet switch)."""
        self.seen, items = self.hub.events_after(self.seen)
        return items


class Hub:
    """One blocking XREAD per process; every open stream of the process reads the events it received.

    The events go into a ring of the RECENT newest events, numbered, and one flag wakes every waiting stream at once
    (a new flag replaces it for the next event): a fan-out to thousands of streams costs one wake-up each, not a
    queue and a flag each, and a stream reads only the slots of the events it has not seen. A stream more than RECENT
    events behind loses the oldest (logged)."""

    RECENT = 1000

    def __init__(self, redis_url: str, block_ms: int = 15000) -> None:
        self.redis_url, self.block_ms = redis_url, block_ms
        self.subscribers: set[Subscription] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.number = 0
        self.ring: list[tuple[int, tuple[str, dict[str, Any]]] | None] = [None] * self.RECENT
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []  # called with each event after the wake-up
        self.changed = threading.Event()

    def subscribe(self) -> Subscription:
        """Return a new subscription that receives every event from now on.

        The first subscription starts the reader from the stream's newest id, read here, before the caller replays
        what it missed: an event published between the caller's replay and the reader's first read is then the
        reader's to deliver, not lost between the two."""
        with self.lock:
            subscription = Subscription(self, self.number)
            self.subscribers.add(subscription)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, args=(self._newest(),), name="sse-hub", daemon=True)
                self.thread.start()
        return subscription

    def _newest(self) -> str:
        """The stream's newest id, or "$" (read by the reader when it can) while Redis does not answer."""
        client = make_redis(self.redis_url)
        try:
            return latest_id(client)
        except RedisError:
            return "$"
        finally:
            client.connection_pool.disconnect()

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop counting the subscription."""
        with self.lock:
            self.subscribers.discard(subscription)

    def count(self) -> int:
        """Return the number of open subscriptions in this process."""
        return len(self.subscribers)

    def wake(self) -> None:
        """Wake every waiting stream (one of them must look at its state)."""
        changed, self.changed = self.changed, threading.Event()
        changed.set()

    def wait_after(self, seen: int, timeout: float) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """Return (number of the newest event, the events after `seen`), waiting at most `timeout` seconds for one
        or for a wake-up; raise queue.Empty when neither came."""
        changed = self.changed
        if self.number <= seen and not changed.wait(timeout):
            raise queue.Empty
        return self.events_after(seen)

    def events_after(self, seen: int) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """Return (number of the newest event, the events after `seen`) now, without waiting or switching."""
        newest, ring, size = self.number, self.ring, len(self.ring)
        items = []
        for number in range(max(seen + 1, newest - size + 1), newest + 1):
            slot = ring[number % size]
            if slot is not None and slot[0] == number:  # a slot a newer event took meanwhile is dropped too
                items.append(slot[1])
        if len(items) < newest - seen:
            log.warning("an event-stream client fell %d events behind; the oldest were dropped", newest - seen)
        return newest, items

    def put(self, event_id: str, payload: dict[str, Any]) -> None:
        """Hand an event to every stream of this process (the hub's reader does; tests may too)."""
        number = self.number + 1
        self.ring[number % len(self.ring)] = (number, (event_id, payload))
        self.number = number
        self.wake()
        for listener in list(self.listeners):
            try:
                listener(event_id, payload)
            except Exception:  # noqa: BLE001 - one listener's failure must not stop the hub's reader
                log.exception("an event listener failed on %s", event_id)

    def _run(self, last: str = "$") -> None:
        client = make_redis(self.redis_url, socket_timeout=self.block_ms / 1000 + 15)
        while True:
            try:
                if last == "$":
                    last = latest_id(client)
                result = client.xread({STREAM_KEY: last}, block=self.block_ms, count=100)
            except RedisError as exc:
                log.warning("event hub lost Redis (%s); retrying", exc)
                threading.Event().wait(1.0)
                continue
            for _, entries in result or []:
                for event_id, payload in _decode(entries):
                    last = event_id
                    self.put(event_id, payload)


def sse_frame(data: str, *, event: str | None = None, event_id: str | None = None) -> str:
    """Format one server-sent event: every data line gets its own 'data:' prefix."""
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"
