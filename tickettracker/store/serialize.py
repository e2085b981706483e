"""The JSON forms of runs, log lines, tickets, audit events and schedules: one shape each, shared by the API, the
SyncStatusUpdated event (published by the worker) and the templates. Plain dicts; nothing here queries."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tickettracker.core.changes import headline
from tickettracker.core.times import iso_utc
from tickettracker.core.vocabulary import AT_RISK, SyncStatus
from tickettracker.store.models import AuditEvent, SyncAudit, SyncLog, SyncRun, SyncSchedule, Ticket


def run_json(run: SyncRun, **extra: Any) -> dict[str, Any]:
    """Return a sync run as the API, the event stream and the templates show it (extra keys appended)."""
    payload = {
        "jobId": run.id, "type": run.type, "status": int(run.status),
        "statusName": SyncStatus(run.status).label, "progress": int(run.progress), "message": run.message,
        "startedAt": iso_utc(run.started_at), "finishedAt": iso_utc(run.finished_at),
        "queuedAt": iso_utc(run.queued_at),
        "fetched": run.fetched, "created": run.created, "updated": run.updated, "deleted": run.deleted,
        "trigger": run.trigger, "attempt": run.attempt, "error": run.error, "version": run.version,
        "requestedBy": run.requested_by, "requests": run.requests, "rateLimitWaits": run.rate_limit_waits,
        "retryOf": run.retry_of, "full": run.full, "cancelRequested": run.cancel_requested,
        "durationSeconds": run_duration(run), "estimate": run.estimate,
        "changes": run.change_counts, "changesHeadline": headline(run.change_counts),
    }
    payload.update(extra)
    return payload


def run_duration(run: SyncRun) -> float | None:
    """Return how long a run took (or has taken so far) in seconds, to a tenth; None before it started."""
    if run.started_at is None:
        return None
    end = run.finished_at or datetime.now(timezone.utc)
    return round((end - run.started_at).total_seconds(), 1)


AUDIT_LABELS = {"freshservice": "Freshservice", "freshdesk": "Freshdesk", "jira": "Jira"}


def sync_audit_json(audit: SyncAudit) -> dict[str, Any]:
    """Return one completeness audit: what it compared, found and repaired, and what it cost."""
    return {"source": audit.source, "label": AUDIT_LABELS.get(audit.source, audit.source), "status": audit.status,
            "at": iso_utc(audit.at), "cacheCount": audit.cache_count, "vendorCount": audit.vendor_count,
            "slicesChecked": audit.slices_checked, "repaired": audit.repaired, "calls": audit.calls,
            "seconds": round(audit.duration_ms / 1000, 1), "message": audit.message}


def log_line_json(line: SyncLog) -> dict[str, Any]:
    """Return one line of a run's log."""
    return {"at": iso_utc(line.at), "level": line.level, "message": line.message, "source": line.source}


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """Return a cached item (without the raw vendor payload)."""
    return {
        "id": ticket.id, "source": ticket.source, "externalId": ticket.external_id, "key": ticket.reference,
        "kind": ticket.kind, "subject": ticket.subject, "status": ticket.status_label, "statusCode": ticket.status_code,
        "statusCategory": ticket.status_category, "priority": ticket.priority_label,
        "priorityCode": ticket.priority_code, "requester": ticket.requester, "assignee": ticket.assignee,
        "group": ticket.group_name, "project": ticket.project, "workspace": ticket.workspace,
        "createdAt": iso_utc(ticket.created_at), "updatedAt": iso_utc(ticket.updated_at),
        "dueBy": iso_utc(ticket.due_by), "frDueBy": iso_utc(ticket.fr_due_by),
        "resolvedAt": iso_utc(ticket.resolved_at), "tags": list(ticket.tags or []),
        "url": ticket.url,
    }


def audit_json(event: AuditEvent) -> dict[str, Any]:
    """Return one audit event."""
    return {"id": event.id, "at": iso_utc(event.at), "actor": event.actor, "action": event.action,
            "target": event.target, "detail": event.detail, "ip": event.ip}


def schedule_json(schedule: SyncSchedule, **extra: Any) -> dict[str, Any]:
    """Return a type's schedule (a saved row, or an unsaved one holding the defaults), extra keys appended."""
    data = {"type": schedule.type, "intervalMinutes": schedule.interval_minutes, "enabled": schedule.enabled,
            "updatedAt": iso_utc(schedule.updated_at), "updatedBy": schedule.updated_by}
    if schedule.type == AT_RISK:
        data.update(intervalSeconds=schedule.interval_seconds or schedule.interval_minutes * 60,
                    horizonMinutes=schedule.horizon_minutes)
    return {**data, **extra}
