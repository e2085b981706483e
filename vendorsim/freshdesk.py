"""The Freshdesk v2 fake: bare array, order_by, include=description, 300-page wall, archived tickets."""

from __future__ import annotations

import itertools
from typing import Any, Callable

from werkzeug.wrappers import Response

from vendorsim.base import route
from vendorsim.freshworks import FreshworksApp, ListQuery, stats
from vendorsim.fw_data import FD_STATUS_NAMES
from vendorsim.fw_search import BODY_FIELDS, DATE_FIELDS
from vendorsim.ratelimit import Verdict
from vendorsim.responses import json_response
from vendorsim.store import Item

WALL_MESSAGE = "You cannot access tickets beyond the 300th page. Please provide a smaller page number."
PAGE_WALL = {"description": "Validation failed",
             "errors": [{"field": "page", "message": WALL_MESSAGE, "code": "invalid_value"}]}


class FreshdeskApp(FreshworksApp):
    """Freshdesk: bare JSON array, description only with include=description, page cap 300."""

    name = "freshdesk"
    includes = ("description", "requester", "stats", "company")
    view_includes = ("conversations", "requester", "company", "stats")
    order_fields = ("created_at", "due_by", "updated_at", "status")
    extra_params = frozenset({"order_by", "requester_id", "email", "company_id", "unique_external_id"})
    page_cap = 300
    search_fields = DATE_FIELDS | frozenset(BODY_FIELDS) - {"workspace_id"}
    routes = [
        route("GET", "/api/v2/tickets", "list_tickets", is_list=True),
        route("GET", "/api/v2/search/tickets", "search_tickets"),
        route("GET", r"/api/v2/tickets/(?P<ticket_id>\d+)", "view_ticket"),
        route("GET", r"/api/v2/tickets/archived/(?P<ticket_id>\d+)", "view_archived_ticket"),
        route("DELETE", r"/api/v2/tickets/(?P<ticket_id>\d+)", "delete_ticket"),
        route("PUT", r"/api/v2/tickets/(?P<ticket_id>\d+)/restore", "restore_ticket"),
        route("GET", "/api/v2/ticket_fields", "ticket_fields"),
        route("GET", "/api/v2/groups", "list_groups"),
        route("GET", "/api/v2/agents", "list_agents"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Count requests for X-Request-Id."""
        super().__init__(*args, **kwargs)
        self._request_ids = itertools.count(1)

    def add_headers(self, response: Response, verdict: Verdict | None) -> None:
        """Rate-limit headers plus X-Request-Id."""
        super().add_headers(response, verdict)
        response.headers["X-Request-Id"] = f"sim-fd-{next(self._request_ids):08d}"

    def page_wall(self) -> Response:
        """The exact 400 Freshdesk sends for page 301 and beyond."""
        return json_response(PAGE_WALL, 400)

    def extra_filter(self, query: ListQuery) -> Callable[[Item], bool]:
        """Company filter on top of the shared ones."""
        shared = super().extra_filter(query)
        company = query.args.get("company_id")
        return lambda item: shared(item) and (company is None or str(item.body["company_id"]) == company)

    def render(self, item: Item, includes: list[str], query: ListQuery | None) -> dict[str, Any]:
        """Without include=description the description fields are absent."""
        out = self.base_render(item)
        if "description" not in includes:
            out.pop("description", None)
            out.pop("description_text", None)
        if "requester" in includes:
            out["requester"] = self.requester(item)
        if "stats" in includes:
            out["stats"] = stats(item)
        if "company" in includes:
            company = item.body["company_id"]
            out["company"] = {"id": company, "name": f"Customer {company % 1000}"} if company else {}
        return out

    def render_truth(self, item: Item) -> dict[str, Any]:
        """All ticket fields including the description (no embeds)."""
        return self.render(item, ["description"], None)

    def ticket_fields(self, request: Any) -> Response:
        """GET /api/v2/ticket_fields with status choices (custom codes included)."""
        choices = {str(code): [label, label] for code, label in FD_STATUS_NAMES.items()}
        return json_response([{"id": 1, "name": "status", "label": "Status", "type": "default_status",
                               "choices": choices}])

    def render_agent(self, person: Any) -> dict[str, Any]:
        """A Freshdesk agent: name and email live in the embedded contact."""
        return {"id": person.id, "available": True, "occasional": False, "ticket_scope": 1, "type": "support_agent",
                "signature": None, "contact": {"name": person.name, "email": person.email, "active": True,
                                               "phone": person.phone, "mobile": None, "job_title": None}}
