"""JSON API of the sync engine: trigger, status, history, log, cancel."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, request, url_for

from tickettracker.core.changes import headline
from tickettracker.core.vocabulary import AT_RISK, SYNC_TYPES
from tickettracker.store.extensions import redis_client
from tickettracker.store.queries import BadQuery
from tickettracker.store.serialize import log_line_json, run_json
from tickettracker.sync import lifecycle, runs
from tickettracker.sync.changes import change_counts, run_changes
from tickettracker.sync.schedule import next_runs
from tickettracker.sync.status import HistoryQuery, history_page, type_status
from tickettracker.web.auth.policy import (
    admin_required,
    audited,
    note,
    signed_in_user_key,
    throttled,
    token_scope,
)
from tickettracker.web.views.actor import current_actor

bp = Blueprint("sync_api", __name__, url_prefix="/api")


SYNC_STARTS_PER_USER = "30 per minute"
TOO_MANY_STARTS = "Too many sync requests; at most 30 per minute."


def trigger_url(sync_type: str) -> str:
    """Return the trigger URL of a sync type."""
    return url_for("sync_api.trigger", sync_type=sync_type)


@bp.post("/governance/sync", defaults={"sync_type": "Incidents"})
@bp.post("/jira/sync", defaults={"sync_type": "JIRA"})
@bp.post("/sync/at-risk", defaults={"sync_type": AT_RISK})
@admin_required
@token_scope("sync")
@throttled(SYNC_STARTS_PER_USER, key=signed_in_user_key, message=TOO_MANY_STARTS)
@audited("sync.trigger")
def trigger(sync_type: str):
    """Start a sync of one type in the background (Incidents = Freshservice + Freshdesk, JIRA, at-risk refresh)."""
    body = request.get_json(silent=True)
    full = request.args.get("full") in ("1", "true") or (isinstance(body, dict) and body.get("full") is True)
    try:
        result = lifecycle.start_sync(redis_client(), sync_type, requested_by=current_actor(), full=full)
    except lifecycle.QueueUnavailable as exc:
        return jsonify(error=str(exc), status=503), 503
    note(result.job_id, type=sync_type, created=result.created, message=result.message)
    response = jsonify(jobId=result.job_id, message=result.message, type=sync_type, created=result.created)
    response.status_code = 202
    # a sync already on its way is no error: the caller joins it and sees its result like everyone else
    response.headers["HX-Trigger"] = json.dumps({"showToast": {"level": "info", "message": result.message}})
    return response


@bp.post("/sync/all")
@admin_required
@token_scope("sync")
@throttled(SYNC_STARTS_PER_USER, key=signed_in_user_key, message=TOO_MANY_STARTS)
@audited("sync.trigger")
def sync_all():
    """Start every sync type in the background."""
    jobs = []
    try:
        for sync_type in SYNC_TYPES:
            result = lifecycle.start_sync(redis_client(), sync_type, requested_by=current_actor())
            jobs.append({"type": sync_type, "jobId": result.job_id, "message": result.message})
    except lifecycle.QueueUnavailable as exc:
        return jsonify(error=str(exc), status=503, jobs=jobs), 503
    note("all", jobs=[{"type": j["type"], "jobId": j["jobId"]} for j in jobs])
    return jsonify(jobs=jobs, message="Syncs started in background"), 202


def _next_runs() -> dict:
    try:
        return next_runs(redis_client())
    except Exception as exc:  # noqa: BLE001 - the status page must answer while Redis is down
        current_app.logger.warning("next run times unavailable: %s", exc)
        return {}


@bp.get("/sync/status")
def sync_status():
    """Return the current state of every sync type."""
    return jsonify(types=type_status(_next_runs()))


@bp.get("/sync/jobs/<job_id>")
def sync_job(job_id: str):
    """Return one run."""
    run = runs.get_run(job_id)
    if run is None:
        abort(404)
    return jsonify(run_json(run))


@bp.get("/sync/jobs/<job_id>/log")
def sync_job_log(job_id: str):
    """Return the log lines of one run."""
    if runs.get_run(job_id) is None:
        abort(404)
    return jsonify(jobId=job_id, lines=[log_line_json(line) for line in runs.run_log(job_id)])


@bp.get("/sync/jobs/<job_id>/changes")
def sync_job_changes(job_id: str):
    """Return what one run changed: per class its count and the items kept (the first 200 per class)."""
    run = runs.get_run(job_id)
    if run is None:
        abort(404)
    return jsonify(jobId=job_id, headline=headline(run.change_counts), counts=change_counts(job_id),
                   classes=run_changes(job_id))


@bp.post("/sync/jobs/<job_id>/cancel")
@admin_required
@token_scope("sync")
@audited("sync.cancel")
def sync_job_cancel(job_id: str):
    """Cancel a queued run, or stop a running one at its next page boundary."""
    run = lifecycle.cancel_sync(redis_client(), job_id)
    if run is None:
        abort(404)
    note(job_id, type=run.type, status=run.status)
    return jsonify(run_json(run)), 202


@bp.get("/sync/history")
def sync_history():
    """Return runs newest first, filtered, one cursor page at a time."""
    try:
        query = HistoryQuery.from_args(request.args)
        rows, cursor = history_page(query)
    except BadQuery as exc:
        return jsonify(error=str(exc), status=400), 400
    next_url = url_for("sync_api.sync_history", cursor=cursor, limit=query.limit, **query.params()) if cursor else None
    return jsonify(items=[run_json(r) for r in rows], nextCursor=cursor, next=next_url)
