"""Who is syncing and who is watching: the started-by line, the join message, open streams per user in Redis."""

from __future__ import annotations

import time

from redis import Redis

from tests.live import signed_in_client
from tickettracker.store.extensions import redis_client
from tickettracker.sync import runs
from tickettracker.web.presence import ENTRY_TTL_SECONDS, WATCHERS_KEY, Watch, presence


def test_a_second_user_joins_the_running_sync_with_the_same_job_and_is_told_whose_it_is(app, client):
    alice = signed_in_client(app, "alice", "admin")
    first = alice.post("/api/governance/sync").get_json()
    assert first["created"] is True
    second = client.post("/api/governance/sync")
    body = second.get_json()
    assert body["created"] is False and body["jobId"] == first["jobId"]
    assert body["message"] == "alice's sync is already queued — you will see its result"
    with app.app_context():
        runs.mark_running(first["jobId"])
    assert client.post("/api/governance/sync").get_json()["message"] == \
        "alice's sync is already running — you will see its result"
    assert alice.post("/api/governance/sync").get_json()["message"].startswith("Your sync is already running")


def test_a_scheduled_sync_is_named_as_such_to_whoever_presses_sync(app, client):
    with app.app_context():
        runs.create_run("JIRA", "scheduled", "scheduler")
    assert client.post("/api/jira/sync").get_json()["message"] == \
        "The scheduled sync is already queued — you will see its result"


def test_the_status_bar_says_who_started_a_running_sync(app, client):
    with app.app_context():
        manual = runs.create_run("Incidents", "manual", "alice").run.id
        runs.mark_running(manual)
        scheduled = runs.create_run("JIRA", "scheduled", "scheduler").run.id
        runs.mark_running(scheduled)
    html = client.get("/sync").get_data(as_text=True)
    assert "Incidents sync started by alice <time" in html
    assert "JIRA sync scheduled, started <time" in html


def test_streams_are_counted_per_user_across_processes_and_dead_ones_expire(app):
    with app.app_context():
        one = redis_client()
        other = Redis.from_url(app.config["REDIS_URL"])  # a second web process's own connection
    try:
        tabs = [Watch(one, "alice"), Watch(other, "alice"), Watch(other, "bob")]
        for tab in tabs:
            tab.beat()
        assert presence(one).streams == {"alice": 2, "bob": 1}
        tabs[0].leave()
        assert presence(other).streams == {"alice": 1, "bob": 1}
        later = time.time() + ENTRY_TTL_SECONDS + 1  # bob's process died: nobody refreshed or removed his entry
        tabs[1].beat(now=later)
        assert presence(one, now=later + 0.5).streams == {"alice": 1}
        assert one.zcard(WATCHERS_KEY) == 1
    finally:
        other.close()


def test_the_syncs_page_names_the_watchers_to_admins_and_counts_them_for_viewers(app, client, viewer_client):
    with app.app_context():
        for name in ("alice", "alice", "bob"):
            Watch(redis_client(), name).beat()
    admin = client.get("/sync").get_data(as_text=True)
    assert "2 people have the app open." in admin and "<li>alice <span" in admin and "<li>bob</li>" in admin
    viewer = viewer_client.get("/sync").get_data(as_text=True)
    assert "2 people have the app open." in viewer and "alice" not in viewer and "watchers-list" not in viewer


def test_an_open_event_stream_counts_its_user_until_it_closes(app, client):
    response = client.get("/events", buffered=False)
    chunks = iter(response.response)
    next(chunks)
    with app.app_context():
        assert presence(redis_client()).streams == {"admin": 1}
    response.close()
    with app.app_context():
        assert presence(redis_client()).streams == {}
