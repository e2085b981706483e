"""The Freshservice v2 fake: {"tickets": [...]}, workspaces, 30-day window, Link paging."""

from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from vendorsim.base import route
from vendorsim.freshworks import FreshworksApp, ListQuery, stats, validation_error
from vendorsim.fw_data import FS_STATUS_NAMES, FS_WORKSPACE_ONLY, FS_WORKSPACES
from vendorsim.fw_search import BODY_FIELDS, DATE_FIELDS
from vendorsim.ratelimit import Verdict
from vendorsim.responses import json_response
from vendorsim.store import Item

PRIMARY_WORKSPACE = FS_WORKSPACES[0][0]


class FreshserviceApp(FreshworksApp):
    """Freshservice: envelope `tickets`, workspace_id (omitted = primary only, 0 = all), no order_by."""

    name = "freshservice"
    envelope = "tickets"
    filters = ("new_and_my_open", "watching", "spam", "deleted", "all_tickets")
    includes = ("stats", "requester", "requested_for", "onboarding_context", "offboarding_context")
    view_includes = ("tags", "conversations", "requester", "stats", "requested_for", "department")
    extra_params = frozenset({"workspace_id", "requester_id", "email", "type"})
    aux_kinds = FreshworksApp.aux_kinds | {"workspaces"}
    aux_paths = FreshworksApp.aux_paths + (("/api/v2/workspaces", "workspaces"),)
    workspaces_refused = False  # an agent key without admin rights: GET /api/v2/workspaces answers 403
    search_envelope = "tickets"
    search_fields = DATE_FIELDS | frozenset(BODY_FIELDS)
    routes = [
        route("GET", "/api/v2/tickets", "list_tickets", is_list=True),
        route("GET", "/api/v2/tickets/filter", "search_tickets"),
        route("GET", r"/api/v2/tickets/(?P<ticket_id>\d+)", "view_ticket"),
        route("DELETE", r"/api/v2/tickets/(?P<ticket_id>\d+)", "delete_ticket"),
        route("PUT", r"/api/v2/tickets/(?P<ticket_id>\d+)/restore", "restore_ticket"),
        route("GET", "/api/v2/workspaces", "list_workspaces"),
        route("GET", "/api/v2/ticket_form_fields", "form_fields"),
        route("GET", "/api/v2/groups", "list_groups"),
        route("GET", "/api/v2/agents", "list_agents"),
    ]

    def add_headers(self, response: Response, verdict: Verdict | None) -> None:
        """Rate-limit headers plus the API version header on every response."""
        super().add_headers(response, verdict)
        response.headers["X-Freshservice-Api-Version"] = "latest=v2; requested=v2"

    def parse_list(self, request: Request) -> ListQuery | Response:
        """Also validate workspace_id."""
        workspace = request.args.get("workspace_id")
        known = [str(ws) for ws, _, _ in FS_WORKSPACES]
        if workspace is not None and workspace not in ["0"] + known:
            return validation_error("workspace_id", f"It should be one of these values: '0,{','.join(known)}'")
        return super().parse_list(request)

    def extra_filter(self, query: ListQuery) -> Callable[[Item], bool]:
        """Workspace (omitted = primary only) and type filters on top of the shared ones."""
        shared = super().extra_filter(query)
        workspace = int(query.args.get("workspace_id", PRIMARY_WORKSPACE))
        kind = query.args.get("type")
        return lambda item: (shared(item) and (workspace == 0 or item.group == workspace)
                             and (kind is None or item.body["type"] == kind))

    def render(self, item: Item, includes: list[str], query: ListQuery | None) -> dict[str, Any]:
        """List shape (no tags); workspace_id=0 keeps only global custom fields."""
        out = self.base_render(item)
        if query is not None and query.args.get("workspace_id") == "0":
            out["custom_fields"] = {k: v for k, v in out["custom_fields"].items() if k not in FS_WORKSPACE_ONLY}
        if "stats" in includes:
            out["stats"] = {"ticket_id": item.num, "created_at": out["created_at"], "updated_at": out["updated_at"],
                            "opened_at": out["created_at"], **stats(item)}
        if "requester" in includes:
            out["requester"] = self.requester(item)
        if "requested_for" in includes:
            out["requested_for"] = self.requester(item)
        if "tags" in includes:
            out["tags"] = list(item.body["_tags"])
        return out

    def render_truth(self, item: Item) -> dict[str, Any]:
        """Everything the list returns with workspace_id set."""
        return self.render(item, [], None)

    def vendor_switches(self, on: bool) -> None:
        """The key is an agent's without admin rights: the workspace list is refused."""
        self.workspaces_refused = on

    def switches(self) -> dict[str, Any]:
        """Shared switches plus the refused workspace list."""
        return {**super().switches(), "workspaces_refused": self.workspaces_refused}

    def list_workspaces(self, request: Request) -> Response:
        """GET /api/v2/workspaces; 403 access_denied for a key without admin rights (workspace_id=0 still works)."""
        if self.workspaces_refused:
            return self.fault_response("403")
        return json_response({"workspaces": [
            {"id": ws, "name": name, "primary": ws == PRIMARY_WORKSPACE, "state": "active"}
            for ws, name, _ in FS_WORKSPACES]})

    def form_fields(self, request: Request) -> Response:
        """GET /api/v2/ticket_form_fields with the status choices (custom codes included)."""
        choices = [{"id": code, "value": label} for code, label in FS_STATUS_NAMES.items()]
        return json_response({"ticket_fields": [{"name": "status", "label": "Status", "choices": choices}]})

    def render_agent(self, person: Any) -> dict[str, Any]:
        """A Freshservice agent: first_name/last_name/email at the top level."""
        first, _, last = person.name.partition(" ")
        return {"id": person.id, "first_name": first, "last_name": last or None, "email": person.email,
                "active": True, "job_title": "Support agent", "work_phone_number": person.phone,
                "mobile_phone_number": None, "occasional": False}
