"""Full pages and the partials htmx swaps into them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from tickettracker.cockpit.sla import ticket_sla
from tickettracker.cockpit.trust import freshness
from tickettracker.core.config import get_settings
from tickettracker.store import generations
from tickettracker.store.links import jira_links, linked_incidents
from tickettracker.store.queries import BadQuery, TicketQuery, filter_options, ticket_by_id, ticket_page
from tickettracker.sync.atrisk_fresh import at_risk_freshness
from tickettracker.web import render_cache
from tickettracker.web.auth.policy import public
from tickettracker.web.export import tickets_csv

bp = Blueprint("pages", __name__)

TITLES = {"incidents": "Incident Tracker", "development": "Development Tracker"}
SYNC_TYPE = {"incidents": "Incidents", "development": "JIRA"}


@bp.get("/health")
@public
def health() -> ResponseReturnValue:
    """Answer the load balancer's liveness probe."""
    return {"status": "ok"}


def wants_fragment() -> bool:
    """Return whether htmx asked for a fragment (not a boosted link and not a history restore)."""
    headers = request.headers
    return bool(headers.get("HX-Request")) and not headers.get("HX-Boosted") \
        and not headers.get("HX-History-Restore-Request")


@bp.get("/<any(incidents, development):view>")
def tracker(view: str) -> ResponseReturnValue:
    """Render a tracker page, or only its table (or more rows) when htmx asks for it (both from the render cache)."""
    data_sets, vary = (SYNC_TYPE[view], generations.RUNS), {"Vary": "HX-Request"}
    if wants_fragment():
        part = "rows" if request.args.get("cursor") else "table"
        return render_cache.respond(f"tracker-{part}", data_sets, lambda: _tracker_fragment(view), headers=vary)
    shell = render_cache.Shell("pages/tracker.html", {"title": TITLES[view], "sync_buttons": (SYNC_TYPE[view],),
                                                      "demo_mode": get_settings().demo_mode})
    return render_cache.respond("tracker-page", data_sets, lambda: _tracker_body(view), page=shell, headers=vary)


def _tracker_context(view: str) -> dict[str, Any]:
    """Query the tracker's page of items (or the error of a bad query) for its templates."""
    settings = get_settings()
    try:
        query = TicketQuery.from_args(view, request.args, settings.page_size)
        page, error = ticket_page(query), None
    except BadQuery as exc:
        query, page, error = TicketQuery(view=view, limit=settings.page_size), None, str(exc)
    return {"view": view, "title": TITLES[view], "query": query, "page": page, "error": error,
            "sync_type": SYNC_TYPE[view], "page_size": settings.page_size, "demo_mode": settings.demo_mode}


def _tracker_fragment(view: str) -> render_cache.Fragment:
    """The htmx fragment: the table (with the filter menus out of band when asked) or the next rows."""
    context = _tracker_context(view)
    template = "partials/ticket_rows.html" if request.args.get("cursor") else "partials/ticket_table.html"
    if request.args.get("options"):
        context["options"] = filter_options(view)
    return render_cache.Fragment(render_template(template, fragment=True, **context))


def _tracker_body(view: str) -> render_cache.Fragment:
    """The shared part of the full page: heading, filter form with its menus, and the table."""
    context = _tracker_context(view)
    context["options"] = filter_options(view)
    context["configured"] = get_settings().vendors.configured_sources()
    context["stamp"] = freshness(datetime.now(timezone.utc))[SYNC_TYPE[view]]
    return render_cache.Fragment(render_template("pages/tracker_body.html", **context),
                                 400 if context["error"] else 200)


@bp.get("/<any(incidents, development):view>/export.csv")
def tracker_csv(view: str) -> ResponseReturnValue:
    """Download every item of a tracker list with its current filters and order as CSV (streamed)."""
    try:
        query = TicketQuery.from_args(view, request.args, 1)
        ticket_page(query)  # the filters are checked here, before the download starts
    except BadQuery as exc:
        abort(400, str(exc))
    return tickets_csv(view, query)


@bp.get("/tickets/<int:ticket_id>")
def ticket_detail(ticket_id: int) -> ResponseReturnValue:
    """Render one cached item with a link back to the vendor."""
    ticket = ticket_by_id(ticket_id)
    if ticket is None:
        abort(404)
    jira = ticket.source == "jira"
    now = datetime.now(timezone.utc)
    return render_template("pages/ticket.html", ticket=ticket, title=ticket.subject, sla=ticket_sla(ticket, now),
                           now=now, at_risk=at_risk_freshness(ticket, get_settings(), now),
                           jira_links=[] if jira else jira_links(ticket),
                           incidents=linked_incidents(ticket) if jira else [], demo_mode=get_settings().demo_mode)
