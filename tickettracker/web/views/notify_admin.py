"""The notifications admin page: rules, channels with a "Send test" button each, open incidents, the delivery log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from tickettracker.core.changes import CHANGE_CLASSES
from tickettracker.core.config import get_settings
from tickettracker.core.vocabulary import DATA_TYPES
from tickettracker.sync import notifications
from tickettracker.sync.channels import CHANNEL_LABELS
from tickettracker.web.auth.policy import admin_required
from tickettracker.web.views.actor import current_actor

bp = Blueprint("notify_admin", __name__, url_prefix="/admin/notifications")


def _page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    rules = notifications.rules()
    return render_template("pages/notifications.html", title="Notifications", error=error, form=request.form,
                           rules=[(rule, notifications.describe(rule)) for rule in rules],
                           kinds=notifications.RULE_KINDS, datasets=DATA_TYPES, change_classes=CHANGE_CLASSES,
                           channels=notifications.channel_states(get_settings()),
                           incidents=notifications.open_incidents(),
                           deliveries=notifications.delivery_log()), status


@bp.get("")
@admin_required
def page() -> ResponseReturnValue:
    """Show the rules, the channels, the open incidents and the delivery log."""
    return _page()


@bp.post("/rules")
@admin_required
def add_rule() -> ResponseReturnValue:
    """Add a rule from the form."""
    form = request.form
    raw = (form.get("threshold") or "").strip()
    try:
        threshold = int(raw) if raw else None
        notifications.add_rule(form.get("kind", ""), form.get("dataset") or None, form.get("change_class") or None,
                               threshold, current_actor())
    except ValueError as exc:  # RuleError, or a threshold that is not a number
        message = str(exc) if isinstance(exc, notifications.RuleError) else "threshold must be a whole number"
        return _page(422, message)
    flash("Rule added.", "info")
    return redirect(url_for(".page"), 303)


@bp.post("/rules/<int:rule_id>/delete")
@admin_required
def delete_rule(rule_id: int) -> ResponseReturnValue:
    """Delete a rule (with its incidents)."""
    if not notifications.delete_rule(rule_id):
        abort(404)
    flash("Rule deleted.", "info")
    return redirect(url_for(".page"), 303)


@bp.post("/test/<channel>")
@admin_required
def send_test(channel: str) -> ResponseReturnValue:
    """Queue a test message to one configured channel."""
    if channel not in CHANNEL_LABELS:
        abort(404)
    if channel not in get_settings().notify.channels():
        flash(f"{CHANNEL_LABELS[channel]} is off: its settings are not set.", "error")
    else:
        notifications.send_test(channel)
        flash(f"Test message to {CHANNEL_LABELS[channel]} queued; its delivery shows in the log below.", "info")
    return redirect(url_for(".page"), 303)
