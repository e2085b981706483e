"""Full pages and the partials htmx swaps into them."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from .. import get_settings
from ..queries import BadQuery, TicketQuery, filter_options, ticket_by_id, ticket_page

bp = Blueprint("pages", __name__)

TITLES = {"incidents": "Incident Tracker", "development": "Development Tracker"}


@bp.get("/")
def home():
    """Send the visitor to the incident tracker."""
    return redirect(url_for("pages.tracker", view="incidents"))


@bp.get("/health")
def health():
    """Answer the load balancer's liveness probe."""
    return {"status": "ok"}


@bp.get("/<any(incidents, development):view>")
def tracker(view: str):
    """Render a tracker page, or only its table when htmx asks for it."""
    settings = get_settings()
    try:
        query = TicketQuery.from_args(view, request.args, settings.page_size)
        page = ticket_page(query)
        error = None
    except BadQuery as exc:
        query, page, error = TicketQuery(view=view, limit=settings.page_size), None, str(exc)
    context = {"view": view, "title": TITLES[view], "query": query, "page": page, "error": error,
               "demo_mode": settings.demo_mode}
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        template = "partials/ticket_rows.html" if request.args.get("cursor") else "partials/ticket_table.html"
        return render_template(template, **context)
    context["options"] = filter_options(view)
    context["configured"] = settings.vendors.configured_sources()
    return render_template("pages/tracker.html", **context)


@bp.get("/tickets/<int:ticket_id>")
def ticket_detail(ticket_id: int):
    """Render one cached item with a link back to the vendor."""
    ticket = ticket_by_id(ticket_id)
    if ticket is None:
        abort(404)
    return render_template("pages/ticket.html", ticket=ticket, title=ticket.subject)
