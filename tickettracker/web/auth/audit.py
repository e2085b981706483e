"""The audit trail: sign-ins, failed sign-ins, sign-outs, and who triggered, cancelled or rescheduled which sync."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from tickettracker.store.extensions import db
from tickettracker.store.models import AuditEvent

log = logging.getLogger(__name__)

# Endpoint → action recorded after a successful answer (the views stay unaware of the audit trail).
AUDITED = {
    "sync_api.sync_incidents": "sync.trigger",
    "sync_api.sync_jira": "sync.trigger",
    "sync_api.sync_all": "sync.trigger",
    "full_resync.start": "sync.trigger",
    "sync_api.sync_job_cancel": "sync.cancel",
    "sync_pages.save_schedule": "schedule.change",
    "sync_pages.put_schedule": "schedule.change",
}


def client_ip() -> str | None:
    """Return the caller's address as the WSGI server saw it (a proxy in front must set it via ProxyFix)."""
    return request.remote_addr if has_request_context() else None


def record(action: str, actor: str | None, target: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Write one audit event in its own commit; a failure is logged, never raised to the user."""
    try:
        db.session.add(AuditEvent(action=action, actor=actor, target=target, detail=detail or {}, ip=client_ip()))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("could not record audit event %s: %s", action, exc)


def _sync_detail(response: Response) -> tuple[str | None, dict[str, Any]]:
    body = response.get_json(silent=True) if response.is_json else None
    if not isinstance(body, dict):
        return None, {k: request.form[k] for k in ("interval_minutes", "enabled") if k in request.form}
    if "jobs" in body:
        return "all", {"jobs": [{"type": j.get("type"), "jobId": j.get("jobId")} for j in body["jobs"]]}
    keep = ("type", "created", "status", "message", "intervalMinutes", "enabled")
    return body.get("jobId"), {k: body[k] for k in keep if k in body}


def after_request(response: Response) -> Response:
    """Record audited actions that succeeded."""
    action = AUDITED.get(request.endpoint or "")
    if action is None or response.status_code >= 400:
        return response
    from flask_login import current_user

    target, detail = _sync_detail(response)
    args = request.view_args or {}
    target = args.get("job_id") or args.get("sync_type") or target
    record(action, getattr(current_user, "username", None), target, detail)
    return response


def recent(limit: int = 50, before: int | None = None, actions: tuple[str, ...] = ()) -> list[AuditEvent]:
    """Return audit events newest first, one keyset page (ids below `before`)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 200)))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if actions:
        query = query.where(AuditEvent.action.in_(actions))
    return list(db.session.scalars(query))


def register(app: Flask) -> None:
    """Install the after-request recorder."""
    app.after_request(after_request)
