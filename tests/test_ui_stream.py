"""GET /events as the page uses it: snapshot, OOB fragments per event, replay by header or query, no lost events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

from tests.live import signed_in_client
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import redis_client
from tickettracker.sync import runs
from tickettracker.sync.events import publish, publish_run
from tickettracker.web.views import stream


def _frames(response) -> Iterator[dict[str, str]]:
    """Yield parsed SSE frames from a streamed test-client response."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            frame: dict[str, str] = {}
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                frame[name] = frame[name] + "\n" + value if name == "data" and name in frame else value
            yield frame


def _until(frames: Iterator[dict[str, str]], event: str, count: int = 1) -> list[dict[str, str]]:
    seen = []
    for frame in frames:
        seen.append(frame)
        if sum(f.get("event") == event for f in seen) >= count:
            return seen
    raise AssertionError(f"stream ended before {count} {event} frames")


def _payload(status: int, **extra) -> dict:
    return {"jobId": "job1", "type": "JIRA", "status": status, "progress": 50, "message": "Page 3",
            "fetched": 7, "created": 2, "updated": 1, "deleted": 0, **extra}


def test_connect_sends_retry_then_a_snapshot_of_every_widget(app, client):
    response = client.get("/events", buffered=False)
    try:
        frames = _until(_frames(response), "sync-ui")
    finally:
        response.close()
    assert frames[0]["retry"] == "3000"
    snapshot = next(f for f in frames if f.get("event") == "snapshot")
    assert set(json.loads(snapshot["data"])["types"]) == {"Incidents", "JIRA", "At-risk"}
    html = frames[-1]["data"]
    assert 'id="sync-status-Incidents"' in html and 'id="sync-status-JIRA"' in html
    assert html.count('hx-swap-oob="outerHTML"') == 3 and "id:" not in frames[-1]


def test_each_event_is_a_json_frame_and_an_html_frame_with_one_id(app, client):
    response = client.get("/events", buffered=False)
    frames = _frames(response)
    try:
        _until(frames, "sync-ui")
        with app.app_context():
            running = publish(redis_client(), _payload(0))
            failed = publish(redis_client(), _payload(2, error='Jira said 401 <b>bad token</b>'))
        got = _until(frames, "sync-ui", 2)
    finally:
        response.close()
    json_frames = [f for f in got if f.get("event") == "SyncStatusUpdated"]
    html_frames = [f for f in got if f.get("event") == "sync-ui"]
    assert [f["id"] for f in json_frames] == [f["id"] for f in html_frames] == [running, failed]
    assert json.loads(json_frames[1]["data"])["error"] == "Jira said 401 <b>bad token</b>"
    live, ended = html_frames[0]["data"], html_frames[1]["data"]
    assert f'data-state="{SyncStatus.RUNNING.slug}"' in live and 'value="50"' in live and "toast" not in live
    assert 'id="sync-btn-JIRA"' in live and "disabled" in live.split('id="sync-btn-JIRA"')[1].split(">")[0]
    assert f'data-state="{SyncStatus.FAILED.slug}"' in ended and 'data-clear-after="10000"' in ended
    assert 'hx-swap-oob="beforeend:#toasts"' in ended and 'href="/sync/runs/job1"' in ended
    assert "&lt;b&gt;bad token&lt;/b&gt;" in ended and "<b>" not in ended
    assert " disabled" not in ended.split('id="sync-btn-JIRA"')[1].split(">")[0]


def test_replay_by_query_parameter_and_header_wins(app, client):
    with app.app_context():
        ids = [publish(redis_client(), _payload(0, n=i)) for i in range(4)]
    for url, headers, first in ((f"/events?last_event_id={ids[1]}", {}, 2),
                                (f"/events?last_event_id={ids[0]}", {"Last-Event-ID": ids[2]}, 3)):
        response = client.get(url, headers=headers, buffered=False)
        try:
            got = _until(_frames(response), "SyncStatusUpdated", 4 - first)
        finally:
            response.close()
        assert [f["id"] for f in got if f.get("event") == "SyncStatusUpdated"] == ids[first:]
        assert not any(f.get("event") == "resync" for f in got)


def test_an_id_too_old_to_replay_gets_resync_instead(app, client):
    old = f"{int(time.time() * 1000) - 3600_000}-0"
    with app.app_context():
        publish(redis_client(), _payload(1))
    response = client.get("/events", headers={"Last-Event-ID": old}, buffered=False)
    try:
        frames = _until(_frames(response), "resync")
    finally:
        response.close()
    assert not any(f.get("event") == "SyncStatusUpdated" for f in frames)


def test_an_event_published_while_the_snapshot_is_taken_is_not_lost(app, client, monkeypatch):
    real_snapshot = stream._snapshot

    def snapshot_with_a_finish_in_between(admin: bool) -> str:
        with app.app_context():
            run = runs.create_run("JIRA", "manual", None).run
            runs.mark_running(run.id)
            ended = runs.finish(run.id, SyncStatus.COMPLETED, "Synced 3 items", counts={"fetched": 3})
            publish_run(redis_client(), ended)
        return real_snapshot(admin)

    monkeypatch.setattr(stream, "_snapshot", snapshot_with_a_finish_in_between)
    response = client.get("/events", buffered=False)
    try:
        got = _until(_frames(response), "SyncStatusUpdated")
    finally:
        response.close()
    event = json.loads(next(f for f in got if f.get("event") == "SyncStatusUpdated")["data"])
    assert event["status"] == SyncStatus.COMPLETED


def test_each_event_is_rendered_once_for_many_clients(app, monkeypatch):
    calls, ready, results = [], threading.Barrier(4, timeout=20), []
    real = stream.render_event
    monkeypatch.setattr(stream, "render_event", lambda payload, admin: calls.append(payload) or real(payload, admin))

    def listen(viewer) -> None:
        response = viewer.get("/events", buffered=False)
        frames = _frames(response)
        try:
            _until(frames, "sync-ui")
            ready.wait()
            results.append(_until(frames, "sync-ui")[-1]["id"])
        finally:
            response.close()

    threads = [threading.Thread(target=listen, args=(signed_in_client(app, f"viewer{i}", "viewer"),)) for i in range(3)]
    for thread in threads:
        thread.start()
    ready.wait()
    with app.app_context():
        event_id = publish(redis_client(), _payload(1))
    for thread in threads:
        thread.join(timeout=20)
    assert results == [event_id] * 3 and len(calls) == 1


def test_an_indeterminate_payload_shows_an_honest_progress_bar(app, client):
    response = client.get("/events", buffered=False)
    frames = _frames(response)
    try:
        _until(frames, "sync-ui")
        with app.app_context():
            publish(redis_client(), _payload(0, indeterminate=True, progress=0, message="Jira gives no total"))
            publish(redis_client(), _payload(0, indeterminate=False, progress=0))
        html = [f["data"] for f in _until(frames, "sync-ui", 2) if f.get("event") == "sync-ui"]
    finally:
        response.close()
    assert "(amount unknown)" in html[0] and "value=" not in html[0].split("<progress")[1].split(">")[0]
    assert 'value="0"' in html[1] and "0%" in html[1]


def test_a_shared_snapshot_is_followed_by_every_event_published_after_it(app):
    with app.test_request_context("/events"):
        first = stream._catch_up(None, False)
        e1 = publish(redis_client(), _payload(0))
        e2 = publish(redis_client(), _payload(1))
        snapshot, since, missed, gap = stream._catch_up(e2, False)
    assert snapshot == first[0] and gap is False
    assert [event_id for event_id, _ in missed] == [e1, e2], "a client newer than the cached snapshot lost events"


def test_a_viewer_stream_carries_no_admin_control_and_an_admin_stream_does(app, client, viewer_client):
    seen = {}
    for role, who in (("viewer", viewer_client), ("admin", client)):
        response = who.get("/events", buffered=False)
        frames = _frames(response)
        try:
            snapshot = _until(frames, "sync-ui")[-1]["data"]
            with app.app_context():
                publish(redis_client(), _payload(0))
            seen[role] = (snapshot, _until(frames, "sync-ui")[-1]["data"])
        finally:
            response.close()
    for html in seen["viewer"]:
        assert "sync-status-JIRA" in html
        assert "sync-btn" not in html and "sync-cancel" not in html and "hx-post" not in html, html
    assert 'id="sync-btn-JIRA"' in seen["admin"][0] and 'id="sync-cancel-JIRA"' in seen["admin"][1]
