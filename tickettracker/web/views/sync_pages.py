"""Sync pages: run history (filters, cursor pages), one run with its log, and the schedules (form and JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from tickettracker.core.config import get_settings
from tickettracker.core.vocabulary import AT_RISK, FULL_TYPES, SYNC_TYPES
from tickettracker.store import generations
from tickettracker.store.extensions import db, redis_client
from tickettracker.store.queries import BadQuery
from tickettracker.store.serialize import run_json, schedule_json, sync_audit_json
from tickettracker.sync import budget, metrics, runlog, runs, schedule_edit
from tickettracker.sync.changes import run_changes
from tickettracker.sync.schedule import next_runs
from tickettracker.sync.status import HistoryQuery, history_page, type_status
from tickettracker.web import render_cache
from tickettracker.web.auth.policy import admin_required, audited, note, token_scope
from tickettracker.web.export import runs_csv
from tickettracker.web.presence import presence
from tickettracker.web.views.actor import current_actor
from tickettracker.web.views.pages import wants_fragment
from tickettracker.web.views.sync_api import trigger_url

bp = Blueprint("sync_pages", __name__)

HORIZON_KEYS = {AT_RISK: ("horizon_minutes", "horizonMinutes")}
# The sync bar on page load is reused for this long while no run starts or ends; a running sync's progress shown in
# it may be this much older, and the event stream's snapshot replaces it as soon as the page connects.
SYNC_BAR_MAX_AGE = 2.0


@bp.app_context_processor
def sync_context() -> dict[str, Any]:
    """Give every template the sync bar state (lazily) and the trigger URL of each type."""
    return {"sync_bar_state": sync_bar_state, "sync_types": SYNC_TYPES,
            "sync_trigger_url": trigger_url}


@bp.after_app_request
def no_stale_pages(response: Response) -> Response:
    """Keep HTML out of caches: every page shows live sync state, so Back must fetch it afresh."""
    if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def sync_bar_state() -> dict[str, dict[str, Any]] | None:
    """Return each type's state for the sync bar, or None while the database is unreachable."""
    try:
        return render_cache.memo("sync-bar", (generations.RUNS,), lambda: type_status({}), SYNC_BAR_MAX_AGE)
    except SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("sync bar state unavailable: %s", exc)
        return None


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """Format a number of seconds as '1 h 2 min', '3 min 4 s' or '5.6 s'."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _next_runs() -> dict[str, datetime | None]:
    try:
        return next_runs(redis_client())
    except Exception as exc:  # noqa: BLE001 - the page must answer while Redis is down
        current_app.logger.warning("next run times unavailable: %s", exc)
        return {}


def _history_context() -> tuple[dict[str, Any], bool]:
    try:
        query = HistoryQuery.from_args(request.args)
        rows, cursor = history_page(query)
        error = None
    except BadQuery as exc:
        query, rows, cursor, error = HistoryQuery(), [], None, str(exc)
    audits = runs.run_audits([r.id for r in rows])
    context = {"title": "Syncs", "query": query, "runs": [run_json(r) for r in rows], "cursor": cursor,
               "audits": {run_id: [sync_audit_json(a) for a in found] for run_id, found in audits.items()},
               "error": error, "sync_buttons": SYNC_TYPES, "demo_mode": get_settings().demo_mode}
    return context, error is not None


@bp.get("/sync")
def history() -> ResponseReturnValue:
    """Render the sync history with the schedules, or only the history table or rows for htmx."""
    context, bad = _history_context()
    if wants_fragment():
        template = "partials/history_rows.html" if request.args.get("cursor") else "partials/history_table.html"
        return render_template(template, **context)
    return _history_page(context, 400 if bad else 200)


def _history_page(context: dict[str, Any], status: int, **extra: Any) -> ResponseReturnValue:
    settings = get_settings()
    schedules = schedule_edit.overview(settings, _next_runs())
    return render_template("pages/sync_history.html", schedules=schedules, presence=presence(redis_client()),
                           budgets=budget.overview(settings), full_types=FULL_TYPES, **context, **extra), status


@bp.get("/sync/export.csv")
def history_csv() -> ResponseReturnValue:
    """Download every run of the history with its current filters as CSV (streamed)."""
    try:
        query = HistoryQuery.from_args(request.args)
    except BadQuery as exc:
        abort(400, str(exc))
    return runs_csv(query)


@bp.get("/sync/runs/<run_id>")
def run_detail(run_id: str) -> ResponseReturnValue:
    """Render one run with its log (the failed-sync toast links here)."""
    run = runs.get_run(run_id)
    if run is None:
        abort(404)
    try:
        level = runlog.check_level(request.args.get("level"))
    except runlog.UnknownLevel as exc:
        abort(400, str(exc))
    context = {"run": run_json(run), "groups": runlog.grouped_log(run_id, level), "level": level,
               "actual": metrics.actual_figures(run), "sources": metrics.run_metrics(run_id),
               "levels": runlog.LEVEL_NAMES, "title": f"{run.type} sync run", "demo_mode": get_settings().demo_mode,
               "audits": [sync_audit_json(a) for a in runs.run_audits([run_id]).get(run_id, [])],
               "changes": run_changes(run_id) if run.type != AT_RISK else None}
    if wants_fragment():
        return render_template("partials/run_body.html", **context)
    return render_template("pages/sync_run.html", **context)


def _known_type(sync_type: str) -> str:
    try:
        return schedule_edit.check_type(sync_type)
    except schedule_edit.UnknownScheduleType:
        abort(404)


@bp.post("/sync/schedules/<sync_type>")
@admin_required
@audited("schedule.change")
def save_schedule(sync_type: str) -> ResponseReturnValue:
    """Change a type's schedule from the form; the scheduler applies it within seconds, without a restart."""
    _known_type(sync_type)
    change, errors = schedule_edit.validate(request.form, "interval_minutes", "enabled",
                                            HORIZON_KEYS.get(sync_type, (None,))[0])
    if change is not None:
        schedule_edit.save(sync_type, change, current_actor())
        note(sync_type, **{k: request.form[k] for k in ("interval_minutes", "enabled") if k in request.form})
    if not wants_fragment():
        if errors:
            context, _ = _history_context()
            return _history_page(context, 422, schedule_errors={sync_type: errors}, schedule_form=request.form)
        return redirect(url_for(".history", saved=sync_type, _anchor=f"schedule-{sync_type}"), 303)
    card = next(s for s in schedule_edit.overview(get_settings(), _next_runs()) if s["type"] == sync_type)
    return render_template("partials/schedule_card.html", s=card, errors=errors, form=request.form,
                           saved=not errors), 422 if errors else 200


@bp.get("/api/sync/schedules")
def schedules_json() -> ResponseReturnValue:
    """Return every type's schedule with its last and next run."""
    return jsonify(items=schedule_edit.overview(get_settings(), _next_runs()))


@bp.put("/api/sync/schedules/<sync_type>")
@admin_required
@token_scope("sync")
@audited("schedule.change")
def put_schedule(sync_type: str) -> ResponseReturnValue:
    """Set a type's schedule from JSON: {"intervalMinutes": 5-10080, "enabled": true|false} (at-risk refresh:
    intervalMinutes 1-60 and "horizonMinutes": 15-10080)."""
    _known_type(sync_type)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="Send a JSON object like {\"intervalMinutes\": 60, \"enabled\": true}.", status=400), 400
    if "enabled" in body and not isinstance(body["enabled"], bool):
        return jsonify(error="enabled must be true or false", errors={"enabled": "Use true or false."},
                       status=422), 422
    current = next(s for s in schedule_edit.overview(get_settings(), {}) if s["type"] == sync_type)
    horizon = HORIZON_KEYS.get(sync_type, (None, None))[1]
    defaults = {"enabled": current["enabled"], **({horizon: current["horizonMinutes"]} if horizon else {})}
    change, errors = schedule_edit.validate({**defaults, **body}, "intervalMinutes", "enabled", horizon)
    if change is None:
        return jsonify(error=next(iter(errors.values())), errors=errors, status=422), 422
    row = schedule_edit.save(sync_type, change, current_actor())
    payload = schedule_json(row)
    note(sync_type, **{k: payload[k] for k in ("intervalMinutes", "enabled") if k in payload})
    return jsonify(payload)
