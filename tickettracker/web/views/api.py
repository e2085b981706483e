"""JSON API over the cache."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from tickettracker.core.config import get_settings
from tickettracker.store.queries import BadQuery, TicketQuery, ticket_page
from tickettracker.store.serialize import ticket_json

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/tickets")
def tickets():
    """Return one keyset page of cached items; follow `next` for the rest."""
    view = request.args.get("view", "incidents")
    try:
        query = TicketQuery.from_args(view, request.args, get_settings().page_size)
        page = ticket_page(query)
    except BadQuery as exc:
        return jsonify(error=str(exc)), 400
    next_url = None
    if page.next_cursor:
        next_url = url_for("api.tickets", view=view, **query.state(cursor=page.next_cursor))
    return jsonify(items=[ticket_json(t) for t in page.items], nextCursor=page.next_cursor, next=next_url)
