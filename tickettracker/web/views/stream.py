"""GET /events: the server-sent event stream of SyncStatusUpdated, with a snapshot, replay and heartbeats."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session, stream_with_context
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from tickettracker.core.config import get_settings
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.health import ServiceUnavailable
from tickettracker.sync.events import EVENT_NAME, Hub, Subscription, latest_id, parse_id, replay, sse_frame
from tickettracker.sync.schedule import next_runs
from tickettracker.sync.status import type_status
from tickettracker.web.auth.sessions import SID, stream_deadline
from tickettracker.web.auth.users import load_principal
from tickettracker.web.presence import Watch
from tickettracker.web.stream_direct import DirectStream, Fanout, chunk, raw_socket
from tickettracker.web.stream_keeper import KeptStream, StreamKeeper
from tickettracker.web.stream_slots import ProcessStreams, StreamLimits, StreamRefused, StreamSlot

bp = Blueprint("stream", __name__)

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 3000
REPLAY_WINDOW_MS = 15 * 60 * 1000  # an older Last-Event-ID gets a resync instead of a long replay
SIGNED_OUT = sse_frame("{}", event="signed-out")  # the session ended: the page goes to the sign-in form
SNAPSHOT_SECONDS = 1.0


class FrameCache:
    """The frames of recent events, rendered and encoded once per process and role, not once per client."""

    def __init__(self, size: int = 512) -> None:
        self.size, self.lock, self.items = size, threading.Lock(), OrderedDict[str, bytes]()

    def get_or_make(self, event_id: str, make: Callable[[], str]) -> bytes:
        """Return the frames of an event, rendering them only if no other client did already."""
        frames = self.items.get(event_id)
        if frames is not None:
            return frames
        with self.lock:
            frames = self.items.get(event_id)
            if frames is None:
                frames = self.items[event_id] = make().encode()
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
            return frames


def _extension(name: str, factory: Any) -> Any:
    found = current_app.extensions.get(name)
    if found is None:
        found = current_app.extensions[name] = factory()
    return found


def hub() -> Hub:
    """Return this process's event hub (one blocking reader per process)."""
    return _extension("tt_hub", lambda: Hub(current_app.config["REDIS_URL"]))


def fanout() -> Fanout:
    """Return this process's fan-out to the streams written directly (it listens to the hub)."""
    def install() -> Fanout:
        made = Fanout(current_app._get_current_object(), frames_for, parse_id, request.url_root)
        hub().listeners.append(made.deliver)
        return made
    return _extension("tt_fanout", install)


def render_event(payload: dict[str, Any], admin: bool) -> str:
    """Return the htmx out-of-band fragments for one event (status widget, with buttons for admins; toast)."""
    return render_template("partials/sync_event.html", event=payload, admin_controls=admin)


def frame_cache() -> FrameCache:
    """Return this process's cache of rendered event frames."""
    return _extension("tt_frames", FrameCache)


def frames_for(event_id: str, payload: dict[str, Any], admin: bool, cache: FrameCache | None = None) -> bytes:
    """Return the two frames of one event: the JSON contract and the HTML for htmx (per role), sharing one id."""
    key = f"{'admin' if admin else 'viewer'}:{event_id}"
    return (cache or frame_cache()).get_or_make(
        key, lambda: sse_frame(json.dumps(payload), event=EVENT_NAME, event_id=event_id)
        + sse_frame(render_event(payload, admin), event="sync-ui", event_id=event_id))


def _client_last_id() -> str | None:
    """Return the id the client saw last (header on native reconnects, query parameter otherwise)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if not raw:
        return None
    try:
        parse_id(raw)
    except ValueError:
        return None
    return raw


def _snapshot(admin: bool) -> str:
    """Render the current state of every type for a role (sent first on every connect)."""
    try:
        upcoming = next_runs(redis_client())
    except RedisError:
        upcoming = {}
    try:
        state = type_status(upcoming)
    finally:
        db.session.remove()
    html = render_template("partials/sync_snapshot.html", state=state, admin_controls=admin)
    return sse_frame(json.dumps({"types": state}), event="snapshot") + sse_frame(html, event="sync-ui")


class SnapshotCache:
    """Per role, the snapshot and the stream id taken just before it, shared by connects within SNAPSHOT_SECONDS.

    A reconnect storm (a deploy, a network blip) then costs one set of queries per process and role, not one per
    client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[bool, tuple[str | None, str]] = {}
        self.taken: dict[bool, float] = {}

    def get(self, admin: bool) -> tuple[str | None, str]:
        """Return (stream id before the snapshot or None when Redis is down, snapshot frames) for the role."""
        with self.lock:
            if time.monotonic() - self.taken.get(admin, -SNAPSHOT_SECONDS) >= SNAPSHOT_SECONDS:
                try:
                    start: str | None = latest_id(redis_client())
                except RedisError:
                    start = None
                self.values[admin], self.taken[admin] = (start, _snapshot(admin)), time.monotonic()
            return self.values[admin]


def _replay_from(client_id: str | None, start: str) -> tuple[str, bool]:
    """Return the id to replay after, and whether the client's id is too old to replay (it must resync)."""
    if client_id is None:
        return start, False
    if parse_id(client_id)[0] < int(time.time() * 1000) - REPLAY_WINDOW_MS:
        return start, True
    return min(client_id, start, key=parse_id), False


def _catch_up(client_id: str | None, admin: bool) -> tuple[str, str, list[tuple[str, dict[str, Any]]], bool]:
    """Return the snapshot, where replay started, the events after it and whether the client must resync.

    Replay starts no later than the id taken *before* the snapshot, so nothing published meanwhile is lost."""
    start, snapshot = _extension("tt_snapshot", SnapshotCache).get(admin)
    if start is None:
        return snapshot, "0-0", [], True
    since, gap = _replay_from(client_id, start)
    try:
        missed, trimmed = replay(redis_client(), since)
    except RedisError:
        return snapshot, since, [], True
    return snapshot, since, missed, gap or (trimmed and since == client_id)


def _user_active(user_id: int, generation: int | None) -> bool:
    """Return whether the user still exists and is enabled under a users generation, read from PostgreSQL unless
    this process loaded the user under that generation moments ago (the keeper returns the connection)."""
    try:
        return load_principal(user_id, generation) is not None
    except SQLAlchemyError:
        return True  # the database is down: the Redis session check still ends revoked sessions


def keeper() -> StreamKeeper:
    """Return this process's stream keeper (renews and checks every open stream once per heartbeat)."""
    return _extension("tt_stream_keeper", lambda: StreamKeeper(current_app._get_current_object(), redis_client(),
                                                                _user_active, lambda: HEARTBEAT_SECONDS))


def _process_streams() -> ProcessStreams:
    return _extension("tt_process_streams", ProcessStreams)


def _refused(exc: StreamRefused) -> Response:
    response = jsonify(error=str(exc), status=exc.status)
    response.status_code = exc.status
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _take_slots() -> tuple[StreamSlot, Callable[[], None]]:
    """Hold this stream's per-process count and its user and session slots; return the slot and its release."""
    settings = get_settings()
    limits = StreamLimits(settings.streams_per_user, settings.streams_per_session, settings.streams_per_process)
    process = _process_streams()
    process.take(limits.per_process)
    slot = StreamSlot(redis_client(), current_user.id, session.get(SID) or "")
    try:
        slot.take(limits)
    except BaseException:
        process.give_back()
        raise
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            slot.give_back()
            process.give_back()

    return slot, release


@bp.get("/events")
def events() -> Response:
    """Stream sync events to this client until it goes away or its session ends."""
    try:
        slot, release = _take_slots()
    except StreamRefused as exc:
        return _refused(exc)
    except RedisError:
        raise ServiceUnavailable("Live updates are unavailable while Redis is unreachable.") from None
    try:
        deadline = stream_deadline()
        admin = bool(current_user.is_admin)
        watch = Watch(redis_client(), current_user.username)
        db.session.remove()  # the sign-in check's transaction must not pin a pooled connection for the stream's life
        subscription = hub().subscribe()
        kept = KeptStream(slot.keys, slot.member, watch.member, session.get(SID) or "", current_user.id,
                          wake=hub().wake)
    except BaseException:
        release()
        raise
    try:
        snapshot, start, missed, gap = _catch_up(_client_last_id(), admin)
        rendered = b"".join(frames_for(i, p, admin) for i, p in missed)
    except Exception:
        hub().unsubscribe(subscription)
        release()
        raise
    finally:
        db.session.remove()
    high = parse_id(missed[-1][0]) if missed else parse_id(start)
    raw = raw_socket(request.environ)
    direct = DirectStream(request.environ["gunicorn.socket"], raw, admin, high) if raw is not None else None
    response = Response(stream_with_context(_stream(subscription, snapshot, rendered, high, gap, deadline, admin,
                                                    watch, kept, direct)),
                        mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(release)
    return response


def _stream(subscription: Subscription, snapshot: str, missed: bytes, high: tuple[int, int], gap: bool,
            deadline: Callable[[], bool], admin: bool, watch: Watch, kept: KeptStream,
            direct: DirectStream | None = None) -> Iterator[str | bytes]:
    streams, frame_of = keeper(), frame_cache()
    try:
        watch.beat()
        streams.add(kept)
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        yield snapshot
        if gap:
            yield sse_frame("{}", event="resync")
        if missed:
            yield missed
        if direct is not None:  # gunicorn has sent the headers and the above: the fan-out writes from here on
            _write_directly(subscription, direct, deadline, kept, frame_of)
            return
        while True:
            if kept.ended or not deadline():  # the keeper checks sessions and users once per heartbeat
                yield SIGNED_OUT
                return
            try:
                items = subscription.get_all(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                yield ": keepalive\n\n"
                continue
            frames = []
            for event_id, payload in items:
                number = parse_id(event_id)
                if number > high:
                    high = number
                    frames.append(frames_for(event_id, payload, admin, frame_of))
            if frames:  # events that came while this stream waited for the CPU go out in one write
                yield frames[0] if len(frames) == 1 else b"".join(frames)
    finally:
        streams.remove(kept)
        watch.leave()
        hub().unsubscribe(subscription)


def _write_directly(subscription: Subscription, direct: DirectStream, deadline: Callable[[], bool],
                    kept: KeptStream, frame_of: FrameCache) -> None:
    """Hand the stream to the fan-out, after the events the hub got since this stream subscribed (no greenlet
    switch in between, so none is lost or sent twice); then write its heartbeats, its queued bytes and its end."""
    fan = fanout()
    kept.wake = direct.signal.set
    for event_id, payload in subscription.take_new():
        direct.send_event(parse_id(event_id), chunk(frames_for(event_id, payload, direct.admin, frame_of)))
    fan.add(direct)
    try:
        while not direct.dead:
            if kept.ended or not deadline():  # the keeper checks sessions and users once per heartbeat
                direct.send(chunk(SIGNED_OUT.encode()))
                direct.flush()
                return
            woken = direct.signal.wait(HEARTBEAT_SECONDS)
            direct.signal.clear()
            if not woken:
                direct.send(chunk(b": keepalive\n\n"))
            direct.flush()
    finally:
        fan.remove(direct)
