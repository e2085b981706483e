"""The governance cockpit: the dashboard page (the app's home), its htmx body, and its JSON."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, render_template, request, url_for
from markupsafe import Markup

from tickettracker.cockpit.dashboard import dashboard_data, to_json
from tickettracker.cockpit.present import present
from tickettracker.cockpit.scope import CockpitFilters, filter_choices
from tickettracker.core.config import get_settings
from tickettracker.store import generations
from tickettracker.store.queries import BadQuery
from tickettracker.web import render_cache
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


DATA_SETS = (generations.INCIDENTS, generations.JIRA, generations.RUNS)


@bp.get("/")
def dashboard():
    """Render the dashboard, or only its body when htmx asks for it (both from the render cache)."""
    if wants_fragment():
        return render_cache.respond("dashboard-body", DATA_SETS, _body, headers=VARY)
    shell = render_cache.Shell("pages/dashboard.html", {"title": "Governance cockpit",
                                                        "demo_mode": get_settings().demo_mode})
    return render_cache.respond("dashboard-page", DATA_SETS, _page, page=shell, headers=VARY)


def _context() -> dict[str, Any]:
    filters, error = _filters()
    return {"title": "Governance cockpit", "filters": filters, "error": error,
            "board": None if error else present(dashboard_data(filters), tracker_link)}


def _body() -> render_cache.Fragment:
    """The dashboard body (tiles and charts), computed once per data generation and filter."""
    context = _context()
    return render_cache.Fragment(render_template("partials/dashboard_body.html", **context),
                                 400 if context["error"] else 200)


def _page() -> render_cache.Fragment:
    """The shared part of the full dashboard: heading, filter form and the (cached) body."""
    filters, error = _filters()
    body = render_cache.cached("dashboard-body", DATA_SETS, _body)
    html = render_template("pages/dashboard_body.html", title="Governance cockpit", filters=filters, error=error,
                           choices=filter_choices(), body=Markup(body.html))  # noqa: S704  # nosec B704
    return render_cache.Fragment(html, 400 if error else 200)


@bp.get("/api/cockpit/data")
def data():
    """Return the dashboard's numbers as JSON, with the same filters as query parameters."""
    try:
        CockpitFilters.from_args(request.args)
    except BadQuery as exc:
        return jsonify(error=str(exc)), 400
    return render_cache.respond("cockpit-data", DATA_SETS, _data, mimetype="application/json")


def _data() -> render_cache.Fragment:
    return render_cache.Fragment(json.dumps(to_json(dashboard_data(CockpitFilters.from_args(request.args)))))
