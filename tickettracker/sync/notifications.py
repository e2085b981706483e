"""Notifications off the page: rules (PostgreSQL, edited by admins), incidents (at most one open per rule and data
set, so a lasting condition notifies once and recovers once) and deliveries (RQ jobs, retried with backoff).

Other code reports conditions through the small functions below: sync_failed / sync_completed (the sync jobs),
check_stale (the scheduler), audit_unrepaired / audit_repaired (the completeness audit)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, text, update

from tickettracker.core.changes import CHANGE_CLASSES
from tickettracker.core.config import Settings
from tickettracker.core.vocabulary import DATA_TYPES, SyncStatus
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import NotificationDelivery, NotificationIncident, NotificationRule, SyncRun
from tickettracker.sync.channels import CHANNEL_LABELS, ChannelError, Message, send
from tickettracker.sync.queues import CONTROL_QUEUE, queue
from tickettracker.sync.schedule_edit import overview

log = logging.getLogger(__name__)

RULE_KINDS = {
    "sync_failed": "A sync failed after its retries",
    "stale": "Data not refreshed for longer than N × its interval",
    "audit_unrepaired": "The completeness audit found a difference it could not repair",
    "change_threshold": "A class of change reached a threshold in one sync",
}
DELIVER_JOB = "tickettracker.sync.notifications.deliver_job"
_OPEN_SQL = text("""
INSERT INTO notification_incidents (rule_id, dataset, detail) VALUES (:rule, :dataset, :detail)
ON CONFLICT (rule_id, dataset) WHERE recovered_at IS NULL DO NOTHING RETURNING id
""")


class RuleError(ValueError):
    """A rule's fields are not valid; the message says which."""


# ---- rules --------------------------------------------------------------------------------------------------------
def rules() -> list[NotificationRule]:
    """Return every rule, oldest first."""
    return list(db.session.scalars(select(NotificationRule).order_by(NotificationRule.id)))


def add_rule(kind: str, dataset: str | None, change_class: str | None, threshold: int | None,
             actor: str | None) -> NotificationRule:
    """Store a new enabled rule or raise RuleError."""
    if kind not in RULE_KINDS:
        raise RuleError(f"kind must be one of {', '.join(RULE_KINDS)}")
    if dataset and dataset not in DATA_TYPES:
        raise RuleError(f"data set must be one of {', '.join(DATA_TYPES)} (or empty for every one)")
    if kind == "change_threshold" and change_class not in CHANGE_CLASSES:
        raise RuleError(f"change class must be one of {', '.join(CHANGE_CLASSES)}")
    if kind in ("change_threshold", "stale") and (threshold is None or not 1 <= threshold <= 100000):
        raise RuleError("threshold (the count, or N for stale data) must be a whole number from 1")
    rule = NotificationRule(kind=kind, dataset=dataset or None, threshold=threshold, updated_by=actor,
                            change_class=change_class if kind == "change_threshold" else None, enabled=True)
    db.session.add(rule)
    db.session.commit()
    return rule


def delete_rule(rule_id: int) -> bool:
    """Remove a rule with its incidents and their log; False when it does not exist."""
    rule = db.session.get(NotificationRule, rule_id)
    if rule is None:
        return False
    db.session.delete(rule)
    db.session.commit()
    return True


def describe(rule: NotificationRule) -> str:
    """Return a rule in words."""
    where = rule.dataset or "every data set"
    if rule.kind == "change_threshold":
        return f"At least {rule.threshold} {CHANGE_CLASSES.get(rule.change_class or '', rule.change_class)} " \
               f"in one sync of {where}"
    if rule.kind == "stale":
        return f"{where}: no completed sync for longer than {rule.threshold} × its interval"
    return f"{RULE_KINDS[rule.kind]} ({where})"


def _matching(kind: str, dataset: str) -> list[NotificationRule]:
    stmt = select(NotificationRule).where(NotificationRule.kind == kind, NotificationRule.enabled.is_(True),
                                          (NotificationRule.dataset.is_(None)) | (NotificationRule.dataset == dataset))
    return list(db.session.scalars(stmt.order_by(NotificationRule.id)))


# ---- incidents ----------------------------------------------------------------------------------------------------
def _open(rule: NotificationRule, dataset: str, detail: str) -> int | None:
    """Open an incident unless one is open; queue its alert. Return the new incident's id."""
    incident_id = db.session.execute(_OPEN_SQL, {"rule": rule.id, "dataset": dataset,
                                                 "detail": _safe(detail)}).scalar()
    db.session.commit()
    if incident_id is not None:
        _queue_all(incident_id, Message("alert", f"{dataset}: {_title(rule)}", _safe(detail), rule.kind, dataset))
    return incident_id


def _recover(rule: NotificationRule, dataset: str, detail: str) -> int | None:
    """Close the rule's open incident on the data set, if any, and queue its follow-up."""
    incident_id = db.session.execute(
        update(NotificationIncident).where(NotificationIncident.rule_id == rule.id,
                                           NotificationIncident.dataset == dataset,
                                           NotificationIncident.recovered_at.is_(None))
        .values(recovered_at=datetime.now(timezone.utc)).returning(NotificationIncident.id)).scalar()
    db.session.commit()
    if incident_id is not None:
        _queue_all(incident_id, Message("recovered", f"Recovered — {dataset}: {_title(rule)}", _safe(detail),
                                        rule.kind, dataset))
    return incident_id


def _title(rule: NotificationRule) -> str:
    return describe(rule) if rule.kind == "change_threshold" else RULE_KINDS[rule.kind]


def report(kind: str, dataset: str, firing: bool, detail: str) -> list[int]:
    """Tell every enabled rule of a kind watching the data set whether its condition holds now; return the ids of
    incidents opened or recovered (the entry point for code outside this module)."""
    done = []
    for rule in _matching(kind, dataset):
        found = _open(rule, dataset, detail) if firing else _recover(rule, dataset, detail)
        if found is not None:
            done.append(found)
    return done


def safely(report_: Any, *args: Any) -> list[int]:
    """Call a reporting function; a failure is logged and never breaks the caller (a sync, the scheduler)."""
    try:
        return report_(*args)
    except Exception as exc:  # noqa: BLE001 - notifying must never fail what it reports on
        db.session.rollback()
        log.warning("notification check %s failed: %s", getattr(report_, "__name__", report_), exc)
        return []


def sync_failed(run: SyncRun) -> list[int]:
    """A run failed and will not be retried: its data set's sync_failed rules fire."""
    return report("sync_failed", run.type, True, f"The {run.type} sync failed: {run.error or run.message}")


def sync_completed(run: SyncRun) -> list[int]:
    """A run completed: failure and stale incidents of its data set recover; change thresholds are checked."""
    done = report("sync_failed", run.type, False, f"The {run.type} sync completed again.")
    done += report("stale", run.type, False, f"The {run.type} data is fresh again.")
    counts = run.change_counts or {}
    for rule in _matching("change_threshold", run.type):
        found = counts.get(rule.change_class or "", 0)
        detail = f"The {run.type} sync found {found} {CHANGE_CLASSES.get(rule.change_class or '', '')}."
        hit = found >= (rule.threshold or 1)
        result = _open(rule, run.type, detail) if hit else _recover(rule, run.type, detail)
        if result is not None:
            done.append(result)
    return done


def audit_unrepaired(dataset: str, detail: str) -> list[int]:
    """The completeness audit found a difference it could not repair in a data set (called by the audit)."""
    return report("audit_unrepaired", dataset, True, detail)


def audit_repaired(dataset: str, detail: str = "The completeness audit finds no difference any more.") -> list[int]:
    """The completeness audit found the data set whole again (called by the audit)."""
    return report("audit_unrepaired", dataset, False, detail)


def check_stale(settings: Settings, now: datetime | None = None) -> list[int]:
    """For each scheduled data set: fire its stale rules when no sync completed for N × its interval."""
    moment = now or datetime.now(timezone.utc)
    done = []
    schedules = {s["type"]: s for s in overview(settings, {})}
    for dataset in DATA_TYPES:
        schedule = schedules.get(dataset) or {}
        interval = int(schedule.get("intervalMinutes") or 0)
        if not schedule.get("enabled") or interval <= 0:
            continue
        last = db.session.execute(select(SyncRun.finished_at).where(
            SyncRun.type == dataset, SyncRun.status == int(SyncStatus.COMPLETED))
            .order_by(SyncRun.finished_at.desc()).limit(1)).scalar()
        for rule in _matching("stale", dataset):
            limit = timedelta(minutes=interval * (rule.threshold or 1))
            if last is not None and moment - last > limit:
                found = _open(rule, dataset, f"The last completed {dataset} sync finished at "
                                             f"{last:%Y-%m-%d %H:%M} UTC, over {rule.threshold} × its "
                                             f"{interval}-minute interval ago.")
            elif last is not None:
                found = _recover(rule, dataset, f"The {dataset} data is fresh again.")
            else:
                found = None
            if found is not None:
                done.append(found)
    db.session.commit()
    return done


# ---- deliveries ---------------------------------------------------------------------------------------------------
def _settings() -> Settings:
    return current_app.extensions["tt_settings"]


def _safe(text_: str) -> str:
    """Return text without any credential or vendor secret (webhook addresses carry their tokens too)."""
    settings = _settings()
    for secret in (*settings.vendors.secrets(), *settings.notify.secrets()):
        if len(secret) >= 4:
            text_ = text_.replace(secret, "***")
    return text_[:2000]


def _queue_all(incident_id: int | None, message: Message) -> list[int]:
    """Log one delivery per configured channel and put each on the job queue."""
    return [queue_delivery(channel, message, incident_id) for channel in _settings().notify.channels()]


def queue_delivery(channel: str, message: Message, incident_id: int | None = None,
                   redis: Redis | None = None) -> int:
    """Log a delivery and enqueue its job; return its id (a Redis outage leaves it queued in the log)."""
    row = NotificationDelivery(incident_id=incident_id, channel=channel, event=message.event,
                               title=_safe(message.title), body=_safe(message.body), status="queued")
    db.session.add(row)
    db.session.commit()
    try:
        queue(redis or redis_client(), CONTROL_QUEUE).enqueue(DELIVER_JOB, row.id, job_timeout=600,
                                                              result_ttl=3600, description=f"notification {row.id}")
    except RedisError as exc:
        log.warning("could not queue notification %s: %s", row.id, exc)
        _finish(row.id, "failed", f"the job queue was unreachable: {exc}")
    return row.id


def send_test(channel: str) -> int:
    """Queue a test message to one channel; return the delivery id."""
    label = CHANNEL_LABELS.get(channel, channel)
    return queue_delivery(channel, Message("test", f"Ticket Tracker test message ({label})",
                                           "If you can read this, notifications reach this channel."))


def deliver_job(delivery_id: int) -> str:
    """RQ job: send one delivery, retrying with exponential backoff; give up with the reason in the log."""
    return deliver(delivery_id, _settings(), time.sleep)


def deliver(delivery_id: int, settings: Settings, sleep: Any) -> str:
    """Send one logged delivery with up to settings.notify.retries retries; return how it ended."""
    row = db.session.get(NotificationDelivery, delivery_id)
    if row is None or row.status != "queued":
        return "skipped"
    incident = db.session.get(NotificationIncident, row.incident_id) if row.incident_id else None
    rule = db.session.get(NotificationRule, incident.rule_id) if incident else None
    message = Message(row.event, row.title, row.body, rule.kind if rule else None,
                      incident.dataset if incident else None)
    channel, tries = row.channel, settings.notify.retries + 1
    db.session.commit()
    for attempt in range(1, tries + 1):
        try:
            send(channel, message, settings.notify)
        except ChannelError as error:
            _attempt(delivery_id, attempt, str(error))
            if attempt < tries:
                sleep(settings.notify.retry_base_seconds * 2 ** (attempt - 1))
                continue
            return _finish(delivery_id, "failed", f"gave up after {tries} attempts: {error}")
        _attempt(delivery_id, attempt, None)
        return _finish(delivery_id, "sent", None)
    return "failed"


def _attempt(delivery_id: int, attempt: int, error: str | None) -> None:
    db.session.execute(update(NotificationDelivery).where(NotificationDelivery.id == delivery_id)
                       .values(attempts=attempt, last_error=error))
    db.session.commit()


def _finish(delivery_id: int, status: str, error: str | None) -> str:
    values: dict[str, Any] = {"status": status, "finished_at": datetime.now(timezone.utc)}
    if error is not None:
        values["last_error"] = error[:2000]
    db.session.execute(update(NotificationDelivery).where(NotificationDelivery.id == delivery_id).values(**values))
    db.session.commit()
    if status == "failed":
        log.warning("notification %s failed: %s", delivery_id, error)
    return status


def delivery_log(limit: int = 100) -> list[NotificationDelivery]:
    """Return the newest deliveries first."""
    return list(db.session.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id.desc())
                                   .limit(limit)))


def open_incidents() -> list[tuple[NotificationIncident, NotificationRule]]:
    """Return the open incidents with their rules, oldest first."""
    stmt = (select(NotificationIncident, NotificationRule).join(NotificationRule)
            .where(NotificationIncident.recovered_at.is_(None)).order_by(NotificationIncident.id))
    return [(incident, rule) for incident, rule in db.session.execute(stmt).all()]


def channel_states(settings: Settings) -> list[dict[str, Any]]:
    """Return every channel with its label and whether it is configured."""
    on = settings.notify.channels()
    return [{"name": name, "label": label, "configured": name in on} for name, label in CHANNEL_LABELS.items()]

