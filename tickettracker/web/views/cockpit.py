"""The governance cockpit: the dashboard page (the app's home), its htmx body, and its JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, render_template, request, url_for

from tickettracker.cockpit.dashboard import dashboard_data, to_json
from tickettracker.cockpit.present import present
from tickettracker.cockpit.scope import CockpitFilters, filter_choices
from tickettracker.core.config import get_settings
from tickettracker.store.queries import BadQuery
from tickettracker.web.views.pages import wants_fragment

bp = Blueprint("cockpit", __name__)
VARY = {"Vary": "HX-Request"}


def tracker_link(view: str, params: dict[str, str]) -> str:
    """Return the tracker list URL for a view and its filters (url_for once per view, then plain encoding)."""
    bases = g.setdefault("tracker_bases", {})
    if view not in bases:
        bases[view] = url_for("pages.tracker", view=view)
    return f"{bases[view]}?{urlencode(params)}" if params else bases[view]


def _filters() -> tuple[CockpitFilters, str | None]:
    try:
        return CockpitFilters.from_args(request.args), None
    except BadQuery as exc:
        return CockpitFilters(), str(exc)


@bp.get("/")
def dashboard():
    """Render the dashboard, or only its body when htmx asks for it (filter change, refresh after a sync)."""
    filters, error = _filters()
    context: dict[str, Any] = {"title": "Governance cockpit", "filters": filters, "error": error,
                               "board": None if error else present(dashboard_data(filters), tracker_link),
                               "demo_mode": get_settings().demo_mode}
    if wants_fragment():
        return render_template("partials/dashboard_body.html", **context), VARY
    context["choices"] = filter_choices()
    return render_template("pages/dashboard.html", **context), 400 if error else 200, VARY


@bp.get("/api/cockpit/data")
def data():
    """Return the dashboard's numbers as JSON, with the same filters as query parameters."""
    try:
        filters = CockpitFilters.from_args(request.args)
    except BadQuery as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(to_json(dashboard_data(filters)))
