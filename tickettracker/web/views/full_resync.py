"""Full resync for admins: a confirm page with the pre-flight estimate, then the run (which keeps the estimate)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from tickettracker.core.config import get_settings
from tickettracker.core.vocabulary import FULL_TYPES
from tickettracker.store.extensions import redis_client
from tickettracker.sync import lifecycle, runs
from tickettracker.sync.estimate import estimate_full
from tickettracker.web.auth.policy import admin_required, audited, note, signed_in_user_key, throttled
from tickettracker.web.views.actor import current_actor
from tickettracker.web.views.sync_api import SYNC_STARTS_PER_USER, TOO_MANY_STARTS

bp = Blueprint("full_resync", __name__)


def _full_type(sync_type: str) -> str:
    """The sync type, or 404 when it has no full resync."""
    if sync_type not in FULL_TYPES:
        abort(404)
    return sync_type


@bp.get("/sync/full/<sync_type>")
@admin_required
def confirm(sync_type: str) -> ResponseReturnValue:
    """Show what a full resync of the type would cost, and ask to confirm."""
    settings = get_settings()
    estimate = estimate_full(settings, _full_type(sync_type))
    return render_template("pages/full_resync.html", title=f"Full {sync_type} resync", sync_type=sync_type,
                           estimate=estimate, active=runs.active_run(sync_type), demo_mode=settings.demo_mode)


@bp.post("/sync/full/<sync_type>")
@admin_required
@throttled(SYNC_STARTS_PER_USER, key=signed_in_user_key, message=TOO_MANY_STARTS)
@audited("sync.trigger")
def start(sync_type: str) -> ResponseReturnValue:
    """Start the full resync with the estimate as it stands now; go to its run page."""
    estimate = estimate_full(get_settings(), _full_type(sync_type))
    try:
        result = lifecycle.start_sync(redis_client(), sync_type, requested_by=current_actor(), full=True,
                                      estimate=estimate.as_json())
    except lifecycle.QueueUnavailable as exc:
        abort(503, str(exc))
    note(result.job_id, type=sync_type, created=result.created, message=result.message, full=True)
    return redirect(url_for("sync_pages.run_detail", run_id=result.job_id), 303)
