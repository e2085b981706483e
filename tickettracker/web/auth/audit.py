"""The audit trail: sign-ins, failed sign-ins, sign-outs, and who triggered, cancelled or rescheduled which sync."""

from __future__ import annotations

import logging
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from tickettracker.store.extensions import db
from tickettracker.store.models import AuditEvent

log = logging.getLogger(__name__)

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


def recent(limit: int = 50, before: int | None = None, actions: tuple[str, ...] = ()) -> list[AuditEvent]:
    """Return audit events newest first, one keyset page (ids below `before`)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(max(1, min(limit, 200)))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if actions:
        query = query.where(AuditEvent.action.in_(actions))
    return list(db.session.scalars(query))
