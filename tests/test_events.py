"""The event stream: increasing ids, exact replay, and the SSE endpoint's wire format."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest

from tests.live import TEST_PASSWORD, ensure_user, signed_in_session
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import redis_client
from tickettracker.sync import events
from tickettracker.sync.events import Hub, Subscription, parse_id, publish, replay


def _publish_many(app, count: int) -> list[str]:
    with app.app_context():
        return [publish(redis_client(), {"jobId": f"j{i}", "type": "JIRA", "status": int(SyncStatus.RUNNING), "n": i})
                for i in range(count)]


def test_ids_increase_even_from_concurrent_publishers(app):
    ids: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = _publish_many(app, 25)
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        stored = [event_id for event_id, _ in replay(redis_client(), "0-0")[0]]
    assert len(stored) == 100 and sorted(stored, key=parse_id) == stored
    assert len(set(stored)) == 100 and set(stored) == set(ids)


def test_replay_from_any_id_returns_exactly_the_later_events(app):
    ids = _publish_many(app, 30)
    with app.app_context():
        for index, event_id in enumerate(ids):
            events, gap = replay(redis_client(), event_id)
            assert [e[0] for e in events] == ids[index + 1:]
            assert [e[1]["n"] for e in events] == list(range(index + 1, 30))
            assert gap is False


def test_replay_reports_a_gap_when_the_id_was_trimmed(app):
    ids = _publish_many(app, 3)
    with app.app_context():
        redis_client().xtrim("tickettracker:events", maxlen=1, approximate=False)
        events, gap = replay(redis_client(), ids[0])
    assert gap is True and [e[0] for e in events] == ids[2:]


def _read_frames(lines, wanted: int, event: str = "SyncStatusUpdated") -> list[dict[str, str]]:
    """Read frames until `wanted` frames of the named event have arrived; return all frames read."""
    frames, current = [], {}
    for line in lines:
        if line == "":
            if current:
                frames.append(current)
                current = {}
                if sum(f.get("event") == event for f in frames) >= wanted:
                    break
            continue
        field, _, value = line.partition(":")
        current[field] = current.get(field, "") + value.lstrip(" ") if field == "data" else value.strip()
    return frames


@pytest.mark.slow
@pytest.mark.parametrize("server", ["flask", "gunicorn"])  # under gunicorn the fan-out writes the live events
def test_sse_endpoint_replays_after_last_event_id_then_streams_live(app, processes, server):
    ids = _publish_many(app, 5)
    base = processes.start_web(gunicorn=server == "gunicorn")
    http = processes.admin_session(base)
    with http.get(f"{base}/events", headers={"Last-Event-ID": ids[2]}, stream=True, timeout=20) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Accel-Buffering"] == "no"
        lines = response.iter_lines(decode_unicode=True, chunk_size=1)
        frames = _read_frames(lines, 2)
        named = [f for f in frames if f.get("event") == "SyncStatusUpdated"]
        assert frames[0].get("retry") == "3000"
        assert [f["id"] for f in named] == ids[3:5]
        assert [json.loads(f["data"])["n"] for f in named] == [3, 4]
        live_id = _publish_many(app, 1)[0]
        live = [f for f in _read_frames(lines, 1) if f.get("event") == "SyncStatusUpdated"]
        assert live and live[0]["id"] == live_id


@pytest.mark.slow
def test_under_gunicorn_every_stream_gets_a_burst_of_events_whole_and_in_order(app, processes):
    base = processes.start_web(gunicorn=True)
    ensure_user(app, "watcher", TEST_PASSWORD, "viewer")
    sessions = [processes.admin_session(base), signed_in_session(base, "watcher", TEST_PASSWORD)]
    streams = [http.get(f"{base}/events", stream=True, timeout=20) for http in sessions]
    try:
        lines = [response.iter_lines(decode_unicode=True, chunk_size=1) for response in streams]
        for each in lines:  # connected: the snapshot came through gunicorn, the rest is written by the fan-out
            _read_frames(each, 1, event="snapshot")
        ids = _publish_many(app, 200)
        for each, admin in zip(lines, (True, False), strict=True):
            frames = _read_frames(each, 201, event="sync-ui")  # the snapshot's, then one per event, after its JSON
            named = [f for f in frames if f.get("event") == "SyncStatusUpdated"]
            html = [f for f in frames if f.get("event") == "sync-ui" and "id" in f]  # not the snapshot's
            assert [f["id"] for f in named] == ids and [f["id"] for f in html] == ids
            assert [json.loads(f["data"])["n"] for f in named] == list(range(200))
            assert ("Cancel" in html[-1]["data"]) is admin  # each role its own fragment
    finally:
        for response in streams:
            response.close()


def test_a_run_state_published_late_never_replaces_a_newer_one(app):
    from tickettracker.core.vocabulary import SyncStatus
    from tickettracker.store.extensions import db
    from tickettracker.sync import runs
    from tickettracker.sync.events import publish_run

    with app.app_context():
        redis = redis_client()
        run = runs.create_run("JIRA", "manual", "ana").run
        started = runs.mark_running(run.id)
        assert publish_run(redis, started)
        started_version = started.version
        cancelling = runs.request_cancel(run.id)  # the web process flags the run ...
        db.session.expunge(cancelling)  # (its own copy, as in another process)
        ended = runs.finish(run.id, SyncStatus.CANCELLED, "Cancelled")  # ... the worker stops and publishes first
        assert publish_run(redis, ended)
        assert publish_run(redis, cancelling) is None  # the web's older "Cancelling…" arrives too late
        assert publish_run(redis, runs.get_run(run.id)) is None  # the same version twice: one event
        assert runs.request_cancel(run.id).message == "Cancelled"  # a cancel after the end changes nothing
        shown = [(e["status"], e["version"]) for _, e in replay(redis, "0-0")[0]]
    assert cancelling.version < ended.version
    assert shown == [(int(SyncStatus.RUNNING), started_version), (int(SyncStatus.CANCELLED), ended.version)]


def test_the_hub_hands_each_stream_every_event_since_it_last_looked_and_wakes_the_waiting_ones(monkeypatch):
    hub = Hub("redis://127.0.0.1:1/0")  # its reader is never started: the test hands it the events
    first = Subscription(hub, hub.number)
    hub.put("1-0", {"n": 1})
    hub.put("2-0", {"n": 2})
    assert first.get_all(timeout=1) == [("1-0", {"n": 1}), ("2-0", {"n": 2})]
    second = Subscription(hub, hub.number)
    with pytest.raises(queue.Empty):
        second.get_all(timeout=0.05)
    threading.Timer(0.05, hub.put, args=("3-0", {"n": 3})).start()
    assert second.get_all(timeout=5) == [("3-0", {"n": 3})]  # a waiting stream is woken
    assert first.get_all(timeout=1) == [("3-0", {"n": 3})]
    threading.Timer(0.05, hub.wake).start()
    assert second.get_all(timeout=5) == []  # woken to look at its state, with no new event

    monkeypatch.setattr(Hub, "RECENT", 2)
    small = Hub("redis://127.0.0.1:1/0")
    behind = Subscription(small, small.number)
    for n in range(3):
        small.put(f"{n}-1", {"n": n})
    assert [payload["n"] for _, payload in behind.get_all(timeout=1)] == [1, 2]  # the oldest was dropped


def test_a_subscription_takes_what_is_new_without_waiting():
    hub = Hub("redis://127.0.0.1:1/0")
    subscription = Subscription(hub, hub.number)
    assert subscription.take_new() == []
    hub.put("1-0", {"n": 1})
    hub.put("2-0", {"n": 2})
    assert subscription.take_new() == [("1-0", {"n": 1}), ("2-0", {"n": 2})]
    assert subscription.take_new() == []
    with pytest.raises(queue.Empty):  # what it took is not handed out again
        subscription.get_all(timeout=0.01)


def test_an_event_published_while_the_hubs_reader_is_still_starting_reaches_the_first_stream(app, monkeypatch):
    real = events.make_redis

    def slow_reader_client(url: str, **kwargs):
        if "socket_timeout" in kwargs:  # the reader's own client: its thread starts late on a busy machine
            time.sleep(0.5)
        return real(url, **kwargs)

    monkeypatch.setattr(events, "make_redis", slow_reader_client)
    hub = Hub(app.config["REDIS_URL"])
    subscription = hub.subscribe()  # a stream's replay, done next, reads what was published before this point
    event_id = _publish_many(app, 1)[0]  # before the reader's first read
    assert [found for found, _ in subscription.get_all(timeout=10)] == [event_id]
