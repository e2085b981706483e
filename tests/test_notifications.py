"""Notifications with real receivers on loopback (an HTTP server recording requests, aiosmtpd) and real RQ + Redis:
each rule fires once per incident and recovers once, failing receivers are retried and then given up with a log
entry, and no message carries a credential or a vendor secret."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq import SimpleWorker
from sqlalchemy import select, update

from tests.live import signed_in_client
from tests.notify_receivers import HttpReceiver, SmtpReceiver
from tickettracker.core.config import NotifySettings
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import NotificationDelivery, SyncRun
from tickettracker.sync import lifecycle, notifications, runs
from tickettracker.sync.jobs import AppWorker
from tickettracker.sync.queues import CONTROL_QUEUE, SYNC_QUEUE, queue

VENDOR_SECRET = "fd-key-Sup3rSecret-4711"
HOOK_TOKEN = "hooktoken-XyZ-0815"
CHANNELS = ("webhook", "slack", "teams", "email")


class InlineWorker(AppWorker, SimpleWorker):
    """The app's RQ worker performing jobs in this process (no fork), so a test can drain the queue."""


@pytest.fixture()
def receivers():
    http, smtp = HttpReceiver().start(), SmtpReceiver().start()
    yield http, smtp
    http.stop()
    smtp.stop()


@pytest.fixture()
def app_config(app_config, receivers):
    """Every channel pointed at the receivers; a vendor key that must never leave the app."""
    http, smtp = receivers
    return {**app_config, "NOTIFY_WEBHOOK_URL": f"{http.url}/hook/{HOOK_TOKEN}",
            "NOTIFY_SLACK_WEBHOOK_URL": f"{http.url}/slack/{HOOK_TOKEN}",
            "NOTIFY_TEAMS_WEBHOOK_URL": f"{http.url}/teams/{HOOK_TOKEN}",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "NOTIFY_EMAIL_FROM": "tracker@example.test",
            "NOTIFY_EMAIL_TO": "lead@example.test", "NOTIFY_MAX_RETRIES": "2", "NOTIFY_RETRY_BASE_SECONDS": "0.01",
            "FRESHDESK_DOMAIN": "acme", "FRESHDESK_API_KEY": VENDOR_SECRET}


@pytest.fixture()
def ctx(app):
    with app.app_context():
        yield app


def drain(app) -> None:
    """Run every queued delivery job with the app's RQ worker until the queue is empty."""
    redis = redis_client()
    InlineWorker([queue(redis, CONTROL_QUEUE)], connection=redis, app=app).work(burst=True)


def _run(sync_type: str, status: SyncStatus, error: str | None = None, **values) -> SyncRun:
    run_id = runs.create_run(sync_type, "manual", "alice").run.id
    runs.mark_running(run_id)
    return runs.finish(run_id, status, "Failed" if error else "Done", error=error, **values)


def _deliveries() -> list[NotificationDelivery]:
    return list(db.session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)))


def test_a_channel_without_settings_is_off():
    assert NotifySettings().channels() == ()
    assert NotifySettings(smtp_host="mail", email_from="a@b").channels() == ()  # no recipient: e-mail is off


def test_a_final_sync_failure_reaches_every_channel_in_its_format_without_any_secret(ctx, receivers):
    http, smtp = receivers
    notifications.add_rule("sync_failed", "Incidents", None, None, "admin")
    failed = _run("Incidents", SyncStatus.FAILED, error=f"Freshdesk said 401 for key {VENDOR_SECRET}")
    assert len(notifications.sync_failed(failed)) == 1
    drain(ctx)
    assert [d.status for d in _deliveries()] == ["sent"] * 4
    hook, slack, teams = http.to("/hook/")[0].json(), http.to("/slack/")[0].json(), http.to("/teams/")[0].json()
    assert hook["event"] == "alert" and hook["dataset"] == "Incidents" and hook["rule"] == "sync_failed"
    assert "Freshdesk said 401" in hook["text"] and slack["text"].startswith("*Incidents: A sync failed")
    assert teams["@type"] == "MessageCard" and teams["title"] == hook["title"]
    assert smtp.messages[0]["to"] == ["lead@example.test"] and "Freshdesk said 401" in smtp.messages[0]["data"]
    sent = [r.body.decode() for r in http.requests] + [m["data"] for m in smtp.messages]
    assert all(VENDOR_SECRET not in text and HOOK_TOKEN not in text for text in sent)
    assert all("***" in text for text in sent)


def test_each_rule_fires_once_per_incident_and_recovers_once(ctx, receivers):
    http, _ = receivers
    notifications.add_rule("sync_failed", None, None, None, "admin")
    failed = _run("JIRA", SyncStatus.FAILED, error="Jira is down")
    assert notifications.sync_failed(failed) and not notifications.sync_failed(failed)  # no storm
    assert notifications.sync_failed(_run("Incidents", SyncStatus.FAILED, error="x"))  # another data set
    done = _run("JIRA", SyncStatus.COMPLETED)
    assert notifications.sync_completed(done) and not notifications.sync_completed(done)
    drain(ctx)
    events = [(r.json()["event"], r.json()["dataset"]) for r in http.to("/hook/")]
    assert events == [("alert", "JIRA"), ("alert", "Incidents"), ("recovered", "JIRA")]
    assert notifications.sync_failed(_run("JIRA", SyncStatus.FAILED, error="again"))  # a new incident


def test_stale_data_fires_after_n_intervals_once_and_recovers_when_a_sync_completes(ctx, receivers):
    http, _ = receivers
    notifications.add_rule("stale", "JIRA", None, 2, "admin")
    old = _run("JIRA", SyncStatus.COMPLETED)
    db.session.execute(update(SyncRun).where(SyncRun.id == old.id)
                       .values(finished_at=datetime.now(timezone.utc) - timedelta(minutes=150)))
    db.session.commit()
    settings = ctx.extensions["tt_settings"]
    assert not notifications.check_stale(settings, datetime.now(timezone.utc) - timedelta(minutes=60))
    assert len(notifications.check_stale(settings)) == 1  # 150 min > 2 × 60 min
    assert not notifications.check_stale(settings)
    assert notifications.sync_completed(_run("JIRA", SyncStatus.COMPLETED))
    assert not notifications.check_stale(settings)
    drain(ctx)
    assert [r.json()["event"] for r in http.to("/hook/")] == ["alert", "recovered"]


def test_the_audit_reports_through_one_function_and_a_change_threshold_fires(ctx, receivers):
    http, _ = receivers
    notifications.add_rule("audit_unrepaired", "JIRA", None, None, "admin")
    notifications.add_rule("change_threshold", "Incidents", "new_urgent", 1, "admin")
    assert notifications.audit_unrepaired("JIRA", "3 issues missing from the cache could not be fetched")
    assert not notifications.audit_unrepaired("JIRA", "still 3 missing")
    assert notifications.audit_repaired("JIRA")
    quiet = _run("Incidents", SyncStatus.COMPLETED, changes={"new_urgent": 0})
    assert not notifications.sync_completed(quiet)
    assert notifications.sync_completed(_run("Incidents", SyncStatus.COMPLETED, changes={"new_urgent": 2}))
    assert notifications.sync_completed(quiet)  # below the threshold again: recovered
    drain(ctx)
    titles = [r.json()["title"] for r in http.to("/hook/")]
    assert titles[0].startswith("JIRA: The completeness audit") and titles[1].startswith("Recovered — JIRA")
    assert titles[2] == "Incidents: At least 1 new urgent in one sync of Incidents"
    assert titles[3].startswith("Recovered — Incidents")


def test_a_failing_receiver_is_retried_with_backoff_and_then_given_up_with_a_log_entry(ctx, receivers):
    http, smtp = receivers
    http.failures = 2  # the first delivery fails twice, then succeeds on its last try
    hook = notifications.send_test("webhook")
    drain(ctx)
    first = db.session.get(NotificationDelivery, hook)
    assert (first.status, first.attempts, first.last_error) == ("sent", 3, None)
    http.broken = True
    slack = notifications.send_test("slack")
    smtp.stop()
    mail = notifications.send_test("email")
    drain(ctx)
    db.session.expire_all()
    for delivery_id in (slack, mail):
        row = db.session.get(NotificationDelivery, delivery_id)
        assert row.status == "failed" and row.attempts == 3 and row.last_error.startswith("gave up after 3 attempts")
    assert len(http.to("/slack/")) == 3
    page = signed_in_client(ctx, "admin", "admin").get("/admin/notifications").get_data(as_text=True)
    assert "gave up after 3 attempts: the receiver answered HTTP 500" in page and HOOK_TOKEN not in page


def test_the_admin_page_adds_and_deletes_rules_and_sends_a_test_per_channel(app, receivers):
    http, smtp = receivers
    admin = signed_in_client(app, "admin", "admin")
    form = {"kind": "change_threshold", "dataset": "JIRA", "change_class": "reopened", "threshold": "5"}
    assert admin.post("/admin/notifications/rules", data=form).status_code == 303
    bad = admin.post("/admin/notifications/rules", data={"kind": "stale", "threshold": "zero"})
    assert bad.status_code == 422 and "threshold must be a whole number" in bad.get_data(as_text=True)
    html = admin.get("/admin/notifications").get_data(as_text=True)
    assert "At least 5 reopened in one sync of JIRA" in html
    for channel in CHANNELS:
        assert admin.post(f"/admin/notifications/test/{channel}").status_code == 303
    with app.app_context():
        drain(app)
        rule_id = notifications.rules()[0].id
    assert [r.json()["event"] for r in http.to("/hook/")] == ["test"]
    assert len(http.to("/slack/")) == len(http.to("/teams/")) == len(smtp.messages) == 1
    assert admin.post(f"/admin/notifications/rules/{rule_id}/delete").status_code == 303
    with app.app_context():
        assert notifications.rules() == []
    viewer = signed_in_client(app, "viewer", "viewer")
    assert viewer.get("/admin/notifications").status_code == 403
    assert viewer.post("/admin/notifications/test/webhook").status_code == 403


def test_a_sync_job_that_fails_for_good_notifies_through_the_worker(ctx, receivers):
    http, _ = receivers
    notifications.add_rule("sync_failed", "JIRA", None, None, "admin")
    run_id = lifecycle.start_sync(redis_client(), "JIRA", requested_by="alice").job_id  # Jira is not configured
    redis = redis_client()
    InlineWorker([queue(redis, SYNC_QUEUE), queue(redis, CONTROL_QUEUE)], connection=redis, app=ctx).work(burst=True)
    drain(ctx)
    assert runs.get_run(run_id).status == SyncStatus.FAILED
    alerts = http.to("/hook/")
    assert len(alerts) == 1 and alerts[0].json()["dataset"] == "JIRA" and "JIRA_API_TOKEN" in alerts[0].json()["text"]
