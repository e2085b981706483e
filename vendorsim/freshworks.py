"""Shared Freshworks (Freshservice/Freshdesk) API behaviour: auth, validation, list paging, Link, budgets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from vendorsim.base import Route, VendorApp
from vendorsim.fw_search import search_response
from vendorsim.ratelimit import Verdict
from vendorsim.responses import json_response
from vendorsim.store import Item, Snapshot
from vendorsim.timeutil import fw_format, parse_fw_since, utcnow

WINDOW = timedelta(days=30)
STATE_FILTERS = {None: "live", "spam": "spam", "deleted": "deleted", "new_and_my_open": "live", "watching": "live"}
LIST_PARAMS = frozenset({"page", "per_page", "updated_since", "order_type", "filter", "include"})
ERROR_BODIES = {
    "401": {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
    "403": {"code": "access_denied", "message": "You are not authorized to perform this action."},
    "500": {"code": "internal_error", "message": "We're sorry, but something went wrong."},
    "503": {"code": "service_unavailable", "message": "The server is temporarily unavailable."},
}


def validation_error(field_name: str, message: str, code: str = "invalid_value") -> Response:
    """The Freshworks 400 envelope."""
    return json_response({"description": "Validation failed",
                          "errors": [{"field": field_name, "message": message, "code": code}]}, 400)


@dataclass
class ListQuery:
    """A validated list request."""

    page: int
    per_page: int
    since: datetime | None
    order_by: str
    desc: bool
    filter: str | None
    includes: list[str]
    args: dict[str, str] = field(default_factory=dict)


def _int(text: str | None, default: int) -> int | None:
    """Parse a positive integer; None when invalid."""
    if text is None:
        return default
    return int(text) if text.strip().isdigit() and int(text) >= 1 else None


class FreshworksApp(VendorApp):
    """Behaviour both Freshworks products share; subclasses set the envelope, params and rendering."""

    envelope: str | None = None
    filters: tuple[str, ...] = ("new_and_my_open", "watching", "spam", "deleted")
    includes: tuple[str, ...] = ("stats", "requester")
    view_includes: tuple[str, ...] = ("stats", "requester")
    order_fields: tuple[str, ...] = ()
    extra_params: frozenset[str] = frozenset()
    page_cap: int | None = None
    search_envelope = "results"
    search_fields: frozenset[str] = frozenset()
    deep_page_delay = 0.0
    tie_orders = frozenset({"updated_at"})  # orders whose ties the tie-shuffle switch reorders ("created_at" too?)
    aux_kinds = frozenset({"directory", "fields", "lookup"})
    aux_paths: tuple[tuple[str, str], ...] = (("/api/v2/agents", "directory"), ("/api/v2/groups", "directory"),
                                              ("/api/v2/ticket_fields", "fields"),
                                              ("/api/v2/ticket_form_fields", "fields"))

    def aux_of(self, request: Request) -> frozenset[str]:
        """Directories, status fields and single-ticket look-ups are auxiliary; the ticket list is not."""
        kinds = {kind for path, kind in self.aux_paths if request.path == path}
        if request.path.startswith("/api/v2/tickets/") and request.method == "GET":
            kinds.add("lookup")
        return frozenset(kinds)

    def authorize(self, request: Request, target: Route) -> Response | None:
        """Basic auth with the API key as username and any password."""
        auth = request.authorization
        ok = auth is not None and auth.type == "basic" and auth.username == self.credentials["api_key"]
        return None if ok and not self.bad_token else self.fault_response("401")

    def cost(self, request: Request, target: Route) -> int:
        """One credit plus two per valid include."""
        names = {name.strip() for name in request.args.get("include", "").split(",") if name.strip()}
        return 1 + 2 * len(names & set(self.includes + self.view_includes))

    def fault_response(self, fault: str) -> Response:
        """Freshworks-shaped error bodies; 502 is an HTML gateway page."""
        if fault == "429":
            return self.rate_limited(Verdict(False, self.limiter.per_window or 0, 0, 0, self.fault_retry_after, 0, 60))
        if fault == "502":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, content_type="text/html")
        response = json_response(ERROR_BODIES[fault], int(fault))
        if fault == "503":
            response.headers["Retry-After"] = str(self.fault_retry_after)
        return response

    def rate_limited(self, verdict: Verdict) -> Response:
        """429 with Retry-After in whole seconds."""
        response = json_response({"message": "You have exceeded the limit of requests per minute"}, 429)
        response.headers["Retry-After"] = str(verdict.retry_after)
        response.headers["X-RateLimit-Total"] = str(verdict.total)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Used-CurrentRequest"] = "0"
        return response

    def add_headers(self, response: Response, verdict: Verdict | None) -> None:
        """Rate-limit headers on every answered request."""
        if verdict is not None and verdict.allowed:
            response.headers["X-RateLimit-Total"] = str(verdict.total)
            response.headers["X-RateLimit-Remaining"] = str(verdict.remaining)
            response.headers["X-RateLimit-Used-CurrentRequest"] = str(verdict.used)

    # ----- list -------------------------------------------------------------------------------------------------
    def list_tickets(self, request: Request) -> Response:
        """GET /api/v2/tickets: validated, windowed, filtered, sorted, paged, with a Link to the next page."""
        query = self.parse_list(request)
        if isinstance(query, Response):
            return query
        if query.page > 500 and self.deep_page_delay:
            time.sleep(self.deep_page_delay)
        start = (query.page - 1) * query.per_page
        with self.store.lock:
            rows = self.select(query)
            page = [self.render(item, query.includes, query) for item in rows[start:start + query.per_page]]
        headers = {}
        if start + query.per_page < len(rows):
            headers["Link"] = f'<{self.next_url(request, query.page + 1)}>; rel="next"'
        return json_response({self.envelope: page} if self.envelope else page, 200, headers)

    def parse_list(self, request: Request) -> ListQuery | Response:
        """Validate the list parameters like the vendor does."""
        args = request.args
        for key in args:
            if key not in LIST_PARAMS | self.extra_params:
                return validation_error(key, "Unexpected/invalid field in request", "invalid_field")
        page, per_page = _int(args.get("page"), 1), _int(args.get("per_page"), 30)
        if page is None:
            return validation_error("page", "It should be a Positive Integer")
        if self.page_cap and page > self.page_cap:
            return self.page_wall()
        if per_page is None or per_page > 100:
            return validation_error("per_page", "It should be a Positive Integer less than or equal to 100")
        return self._parse_rest(args, page, per_page)

    def _parse_rest(self, args: Any, page: int, per_page: int) -> ListQuery | Response:
        """Validate updated_since, ordering, filter and include."""
        since = None
        if "updated_since" in args:
            since = parse_fw_since(args["updated_since"])
            if since is None:
                return validation_error("updated_since", "It should be in the 'valid date time' format")
        order_type = args.get("order_type", "desc")
        if order_type not in ("asc", "desc"):
            return validation_error("order_type", "It should be one of these values: 'asc,desc'")
        order_by = args.get("order_by", "created_at")
        if order_by != "created_at" and order_by not in self.order_fields:
            return validation_error("order_by", f"It should be one of these values: '{','.join(self.order_fields)}'")
        chosen = args.get("filter")
        if chosen is not None and chosen not in self.filters:
            return validation_error("filter", f"It should be one of these values: '{','.join(self.filters)}'")
        includes = [name.strip() for name in args.get("include", "").split(",") if name.strip()]
        bad = [name for name in includes if name not in self.includes]
        if bad:
            return validation_error("include", f"It should be one of these values: '{', '.join(self.includes)}'")
        return ListQuery(page, per_page, since, order_by, order_type == "desc", chosen, includes, args.to_dict())

    def page_wall(self) -> Response:
        """The answer for pages beyond the cap (subclass)."""
        raise NotImplementedError

    def select(self, query: ListQuery) -> list[Item]:
        """Items matching the state filter, the 30-day or updated_since window and extra filters, sorted."""
        state = STATE_FILTERS.get(query.filter, "live")
        floor = utcnow() - WINDOW
        wanted = self.extra_filter(query)
        rows = [item for item in self.store.items.values() if item.state == state
                and (item.updated >= query.since if query.since else item.created >= floor) and wanted(item)]
        if query.filter == "watching":
            rows = []
        elif query.filter == "new_and_my_open":
            rows = [item for item in rows if item.body["status"] == 2]
        key = SORT_KEYS[query.order_by]
        rows.sort(key=lambda item: (key(item), item.num), reverse=query.desc)
        if query.order_by in self.tie_orders:  # the vendor promises no order among tickets of one second
            rows = self.store.shuffle_ties(rows, key)
        return rows

    def extra_filter(self, query: ListQuery) -> Callable[[Item], bool]:
        """Vendor-specific filters from the query (requester, workspace...)."""
        requester = query.args.get("requester_id")
        email = query.args.get("email")
        return lambda item: ((requester is None or str(item.body["requester_id"]) == requester)
                             and (email is None or item.body["_requester"].email == email))

    def next_url(self, request: Request, page: int) -> str:
        """The same URL with page replaced: the Link echoes the original query string."""
        pairs = [(key, str(page) if key == "page" else value) for key, value in request.args.items(multi=True)]
        if "page" not in request.args:
            pairs.append(("page", str(page)))
        return f"{request.host_url.rstrip('/')}{request.path}?{urlencode(pairs)}"

    # ----- directories ------------------------------------------------------------------------------------------
    def list_groups(self, request: Request) -> Response:
        """GET /api/v2/groups: the groups tickets reference by group_id, paged like the ticket list."""
        factory = self.store.factory
        rows = [self.render_group(group_id, name) for group_id, name in factory.group_names.items()]
        return self.directory_page(request, "groups", rows)

    def list_agents(self, request: Request) -> Response:
        """GET /api/v2/agents: the agents tickets reference by responder_id, paged like the ticket list."""
        return self.directory_page(request, "agents", [self.render_agent(person)
                                                       for person in self.store.factory.agents])

    def directory_page(self, request: Request, envelope: str, rows: list[dict[str, Any]]) -> Response:
        """One page of a directory listing: page/per_page validated, Link rel=next when more remain."""
        for key in request.args:
            if key not in ("page", "per_page"):
                return validation_error(key, "Unexpected/invalid field in request", "invalid_field")
        page, per_page = _int(request.args.get("page"), 1), _int(request.args.get("per_page"), 30)
        if page is None:
            return validation_error("page", "It should be a Positive Integer")
        if per_page is None or per_page > 100:
            return validation_error("per_page", "It should be a Positive Integer less than or equal to 100")
        start = (page - 1) * per_page
        headers = {}
        if start + per_page < len(rows):
            headers["Link"] = f'<{self.next_url(request, page + 1)}>; rel="next"'
        chunk = rows[start:start + per_page]
        return json_response({envelope: chunk} if self.envelope else chunk, 200, headers)

    def render_group(self, group_id: int, name: str) -> dict[str, Any]:
        """One group (subclass adds vendor fields)."""
        return {"id": group_id, "name": name, "description": f"{name} team", "escalate_to": None,
                "unassigned_for": "30m"}

    def render_agent(self, person: Any) -> dict[str, Any]:
        """One agent (subclass)."""
        raise NotImplementedError

    # ----- single ticket ----------------------------------------------------------------------------------------
    def view_ticket(self, request: Request, ticket_id: str) -> Response:
        """GET /api/v2/tickets/{id}."""
        item = self.store.get(ticket_id)
        if item is None or item.state in ("archived", "gone"):
            return json_response({"code": "not_found", "message": "Record not found"}, 404)
        includes = [name.strip() for name in request.args.get("include", "").split(",") if name.strip()]
        with self.store.lock:
            ticket = self.render(item, includes + ["description"], None)
        return json_response({"ticket": ticket} if self.envelope else ticket)

    def view_archived_ticket(self, request: Request, ticket_id: str) -> Response:
        """GET /api/v2/tickets/archived/{id} (Freshdesk "View an Archived Ticket"): only archived tickets answer."""
        item = self.store.get(ticket_id)
        if item is None or item.state != "archived":
            return json_response({"code": "not_found", "message": "Record not found"}, 404)
        with self.store.lock:
            ticket = self.render(item, ["description"], None)
        return json_response(ticket)

    def delete_ticket(self, request: Request, ticket_id: str) -> Response:
        """DELETE /api/v2/tickets/{id} → 204, the ticket moves to the deleted filter."""
        return Response(status=204) if self.store.set_state(ticket_id, "deleted") else self.not_found()

    def restore_ticket(self, request: Request, ticket_id: str) -> Response:
        """PUT /api/v2/tickets/{id}/restore → 204."""
        return Response(status=204) if self.store.set_state(ticket_id, "live") else self.not_found()

    # ----- rendering ----------------------------------------------------------------------------------------------
    def base_render(self, item: Item) -> dict[str, Any]:
        """Public body fields plus created_at/updated_at."""
        out = {key: value for key, value in item.body.items() if key[0] != "_"}
        out["created_at"] = fw_format(item.created)
        out["updated_at"] = fw_format(item.updated)
        return out

    def render(self, item: Item, includes: list[str], query: ListQuery | None) -> dict[str, Any]:
        """Render one ticket for a response (subclass)."""
        raise NotImplementedError

    # ----- filter / search --------------------------------------------------------------------------------------
    def search_tickets(self, request: Request) -> Response:
        """The filter/search endpoint (fw_search.py): {envelope: [...], "total": N}, 30 a page, 10 pages."""
        return search_response(self, request, self.search_envelope, self.search_fields)

    def render_search(self, item: Item, snapshot: Snapshot) -> dict[str, Any]:
        """A ticket as the (possibly lagging) index shows it."""
        seen = Item(item.ext_id, item.num, item.group, item.created, snapshot.updated, snapshot.body, snapshot.state)
        return self.render(seen, [], None)

    def requester(self, item: Item) -> dict[str, Any]:
        """The embedded requester object."""
        person = item.body["_requester"]
        return {"id": person.id, "name": person.name, "email": person.email, "mobile": None, "phone": person.phone}


SORT_KEYS: dict[str, Callable[[Item], Any]] = {
    "created_at": lambda item: item.created, "updated_at": lambda item: item.updated,
    "due_by": lambda item: item.body["due_by"], "status": lambda item: item.body["status"],
}


def stats(item: Item) -> dict[str, Any]:
    """Ticket stats derived from status and timestamps."""
    status = item.body["status"]
    updated = fw_format(item.updated)
    return {"agent_responded_at": updated if item.body.get("responder_id") else None,
            "requester_responded_at": None, "first_responded_at": updated if item.body.get("responder_id") else None,
            "status_updated_at": updated, "reopened_at": None, "resolved_at": updated if status in (4, 5) else None,
            "closed_at": updated if status == 5 else None, "pending_since": updated if status == 3 else None}
