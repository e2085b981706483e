"""A vendor credential set in the environment never leaks: not in logs, pages, events, API answers, Redis or rows."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from redis import Redis
from sqlalchemy import text

from tests.live import wait_until
from tickettracker.core.vocabulary import ENDED_STATUSES, SyncStatus
from tickettracker.store.extensions import db
from vendorsim import VendorSimulator

pytestmark = pytest.mark.slow

CANARY = "canary-" + secrets.token_hex(12)
JIRA_CANARY = "jira-canary-" + secrets.token_hex(12)
FORMS = (CANARY, base64.b64encode(f"{CANARY}:X".encode()).decode(), CANARY[::-1], JIRA_CANARY)
PAGES = ("/", "/incidents", "/development", "/sync", "/account", "/admin/users", "/sync/audit",
         "/api/sync/status", "/api/sync/history", "/api/sync/schedules", "/api/tickets", "/api/cockpit/data",
         "/api/audit", "/api/me", "/nowhere", "/api/nowhere")


@pytest.fixture()
def simulator():
    """A small simulator."""
    sim = VendorSimulator(seed=11, sizes={"freshservice": 15, "freshdesk": 15, "jira": 15}).start()
    yield sim
    sim.stop()


def _redis_dump(redis_url: str) -> str:
    """Return every key and value of the test's Redis database as text."""
    redis, parts = Redis.from_url(redis_url), []
    readers = {b"string": redis.get, b"hash": redis.hgetall, b"list": lambda k: redis.lrange(k, 0, -1),
               b"set": redis.smembers, b"zset": lambda k: redis.zrange(k, 0, -1), b"stream": redis.xrange}
    for key in redis.scan_iter():
        reader = readers.get(redis.type(key))
        parts.append(f"{key!r} {reader(key) if reader else ''!r}")
    return "\n".join(parts)


def _tables(app) -> str:
    with app.app_context():
        rows = [str(list(db.session.execute(text(f"SELECT * FROM {table}"))))  # noqa: S608 - fixed names
                for table in ("sync_runs", "sync_logs", "audit_events", "sync_cursors", "sync_schedules")]
        db.session.remove()
    return "\n".join(rows)


def _first_frames(http, base: str) -> str:
    with http.get(f"{base}/events?last_event_id=0-1", stream=True, timeout=20) as response:
        seen = ""
        for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
            seen += chunk
            if "event: snapshot" in seen and seen.count("\n\n") >= 4:
                break
    return seen


def test_a_rejected_vendor_key_appears_nowhere(app, processes, simulator, redis_url):
    processes.env.update({**simulator.settings_env(), "FRESHDESK_API_KEY": CANARY, "JIRA_API_TOKEN": JIRA_CANARY,
                          "LOG_LEVEL": "debug", "SYNC_MAX_RETRIES": "0"})
    processes.start_worker(processes=1)
    base = processes.start_web()
    http = processes.admin_session(base)
    seen = [_first_frames(http, base)]
    for trigger, vendor in (("/api/governance/sync", "freshdesk"), ("/api/jira/sync", "jira")):
        job_id = http.post(base + trigger, timeout=10).json()["jobId"]
        run = wait_until(lambda j=job_id: (r := http.get(f"{base}/api/sync/jobs/{j}", timeout=10).json())["status"]
                         in ENDED_STATUSES and r, timeout=60, what="the sync to end")
        assert run["status"] == SyncStatus.FAILED and vendor in json.dumps(run).lower(), run
        seen += [json.dumps(run), http.get(f"{base}/api/sync/jobs/{job_id}/log", timeout=10).text,
                 http.get(f"{base}/sync/runs/{job_id}", timeout=10).text]
    seen.append(_first_frames(http, base))
    seen += [http.get(base + path, timeout=10).text for path in PAGES]
    seen += [processes.log("worker"), processes.log("web"), _redis_dump(redis_url), _tables(app)]
    everything = "\n".join(seen)
    assert "rejected" in everything.lower() or "401" in everything  # the failure itself is reported
    for form in FORMS:
        assert form not in everything
