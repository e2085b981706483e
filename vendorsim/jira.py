"""The Jira fake: Cloud v3 (/search/jql, 410 on removed search, Seraph bad-token quirk) or Data Center v2."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Request, Response

from vendorsim.base import Route, VendorApp, route
from vendorsim.jira_data import FIELD_IDS, JiraFactory, RenderContext, render_issue
from vendorsim.jira_search import SearchError, SearchLimit, cloud_page, dc_page, matching, read_params, wanted_fields
from vendorsim.jql import JqlError, parse
from vendorsim.links import HELPDESK_FIELD, remote_link
from vendorsim.ratelimit import Verdict
from vendorsim.responses import json_response
from vendorsim.store import Store
from vendorsim.timeutil import utcnow

REMOVED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
           "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
HTML_429 = ("<html><head><title>Oops - an error has occurred</title></head><body><h1>error429</h1>"
            "<p>Rate limit exceeded.</p></body></html>")
COMMON = [("myself", "myself"), ("issue/(?P<key>[^/]+)", "get_issue"),
          ("issue/(?P<key>[^/]+)/remotelink", "remote_links"), ("field", "list_fields"),
          ("serverInfo", "server_info"), ("project", "list_projects"), ("project/search", "search_projects")]


def _routes(versions: str, own: list[Route]) -> list[Route]:
    """The flavour's own routes plus the common GET endpoints for the given REST versions."""
    return own + [route("GET", rf"/rest/api/(?P<version>[{versions}])/{suffix}", handler) for suffix, handler in COMMON]


V = r"/rest/api/(?P<version>[23])"
CLOUD_ROUTES = _routes("23", [route("GET,POST", f"{V}/search/jql", "search_jql", is_list=True),
                              route("GET,POST", f"{V}/search", "removed"),
                              route("POST", "/rest/api/3/search/approximate-count", "approximate_count")])
DC_ROUTES = _routes("2", [route("GET,POST", r"/rest/api/(?P<version>2)/search", "search_legacy", is_list=True)])


def errors(message: str | list[str], status: int, headers: dict[str, str] | None = None) -> Response:
    """Jira's error envelope."""
    messages = message if isinstance(message, list) else [message]
    return json_response({"errorMessages": messages, "errors": {}}, status, headers)


class JiraApp(VendorApp):
    """Jira Cloud (flavour='cloud') or Data Center (flavour='dc')."""

    name = "jira"
    aux_kinds = frozenset({"projects", "remotelinks", "lookup", "fields", "myself", "count", "census", "by_id"})

    def __init__(self, store: Store, credentials: dict[str, str], factory: JiraFactory, flavour: str = "cloud",
                 timezone: str = "Asia/Kolkata", **kwargs: Any) -> None:
        """Pick the flavour's routes and the searching user's timezone."""
        if flavour not in ("cloud", "dc"):
            raise ValueError("jira_flavour must be 'cloud' or 'dc'")
        super().__init__(store, credentials, **kwargs)
        self.factory, self.flavour, self.zone = factory, flavour, ZoneInfo(timezone)
        self.routes = CLOUD_ROUTES if flavour == "cloud" else DC_ROUTES
        self.stale_token_on_last_page = False
        self.bad_token_project_error = False
        self.dc_max_result_window = 10_000
        self.html_429_every = 2
        self.approximate_error = 0.0  # approximate-count is off by up to this share of the true count
        self._approximate_rng = random.Random(7)
        self._throttled = itertools.count(1)
        self.peers: tuple[tuple[str, str], ...] = ()  # helpdesk base URLs, for links to their tickets
        self.projects = {alias.lower(): key for key, name, pid, _ in factory.projects for alias in (key, name, pid)}
        self.strict_issue_refs = False  # an id/key comparison naming no (visible) issue is a 400, as on real Jira

    # ----- adversarial switches and changes ----------------------------------------------------------------------
    def vendor_switches(self, on: bool) -> None:
        """JQL naming an issue that does not exist is refused."""
        self.strict_issue_refs = on

    def switches(self) -> dict[str, Any]:
        """Shared switches plus strict issue references and the hidden projects."""
        return {**super().switches(), "strict_issue_refs": self.strict_issue_refs,
                "hidden_projects": sorted(self.store.hidden_groups)}

    def move_issue(self, key: str, project_key: str) -> str:
        """Move an issue to another project: the next key there, the same id, updated now; returns the new key.
        The old key keeps working for GET issue and in JQL, as on Jira."""
        if project_key not in self.project_keys:
            raise KeyError(f"no project {project_key!r}")
        return self.move(key, project_key)

    def hide_project(self, project_key: str, hidden: bool = True) -> list[str]:
        """The account loses (or regains) Browse on a project: it leaves the project lists, search and issue reads
        (404, as for a deleted issue). Returns the keys of its issues."""
        if project_key not in self.project_keys:
            raise KeyError(f"no project {project_key!r}")
        return self.store.hide_group(project_key, hidden)

    def _exists(self, ref: str) -> bool:
        """Whether an id or key names an issue this user can see (live, in a browsable project)."""
        with self.store.lock:
            item = self.store.resolve(ref.upper()) if not ref.isdigit() else self._by_number(ref)
            return item is not None and item.state == "live" and self.store.visible(item)

    def _by_number(self, number: str) -> Any:
        """The item with this numeric id, whatever its state."""
        return self.store.by_num.get(int(number))

    def aux_of(self, request: Request) -> frozenset[str]:
        """Every call but the main issue search is auxiliary; id-only searches are census pages, `id in (...)`
        searches are look-ups by id."""
        path = request.path
        if path.endswith(("/search", "/search/jql")) and "/project/" not in path:
            try:
                params = read_params(request)
            except SearchError:
                return frozenset()
            wanted = wanted_fields(params.fields, "id" if path.endswith("/jql") else "*navigable", self.flavour)
            if wanted is not None and wanted <= {"id", "key"}:
                return frozenset({"census"})
            return frozenset({"by_id"}) if " in (" in params.jql.lower() and "id" in params.jql.lower() else frozenset()
        if path.endswith("/remotelink"):
            return frozenset({"remotelinks"})
        for suffix, kind in (("/approximate-count", "count"), ("/project/search", "projects"), ("/project", "projects"),
                             ("/field", "fields"), ("/myself", "myself")):
            if path.endswith(suffix):
                return frozenset({kind})
        return frozenset({"lookup"}) if "/issue/" in path else frozenset()

    @property
    def project_keys(self) -> list[str]:
        """The site's project keys."""
        return [key for key, *_ in self.factory.projects]

    def set_bad_token(self, on: bool = True, project_error: bool = False) -> None:
        """Reject credentials; project_error=True makes project-naming JQL answer 400 instead of 200 empty."""
        super().set_bad_token(on)
        self.bad_token_project_error = project_error

    # ----- auth and errors ----------------------------------------------------------------------------------------
    def auth_state(self, request: Request) -> str:
        """'ok', 'anonymous' (no credentials) or 'failed' (credentials given but wrong)."""
        auth = request.authorization
        if auth is None:
            return "anonymous"
        creds = self.credentials
        if self.flavour == "cloud":
            ok = auth.type == "basic" and (auth.username, auth.password) == (creds["email"], creds["api_token"])
        else:
            ok = (auth.type == "bearer" and auth.token == creds["pat"]) or (
                auth.type == "basic" and (auth.username, auth.password) == (creds["username"], creds["password"]))
        return "ok" if ok and not self.bad_token else "failed"

    def seraph(self, request: Request) -> dict[str, str]:
        """The login-reason header Jira adds when credentials were sent."""
        state = self.auth_state(request)
        return {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"} if state == "failed" else (
            {"X-Seraph-LoginReason": "OK"} if state == "ok" else {})

    def fault_response(self, fault: str) -> Response:
        """Jira-shaped failures; 502/503 are gateway pages, 503 carries Retry-After."""
        if fault == "429":
            total = self.limiter.per_window or 0
            return self.rate_limited(Verdict(False, total, 0, 0, self.fault_retry_after, time.time() + 1, 60))
        if fault in ("502", "503"):
            response = Response(f"<html><body><h1>{fault} Service Unavailable</h1></body></html>", int(fault),
                                content_type="text/html")
            response.headers["Retry-After"] = str(self.fault_retry_after)
            return response
        messages = {"401": NOT_AUTHENTICATED, "403": "You do not have permission to perform this action.",
                    "500": "Internal server error"}
        return errors(messages[fault], int(fault))

    def rate_limited(self, verdict: Verdict) -> Response:
        """429 with Retry-After and X-RateLimit-*; every html_429_every-th one has an HTML body."""
        html = self.html_429_every and next(self._throttled) % self.html_429_every == 0
        response = (Response(HTML_429, 429, content_type="text/html") if html
                    else errors("Rate limit exceeded.", 429))
        response.headers["Retry-After"] = str(verdict.retry_after)
        self._limit_headers(response, verdict.total, 0, verdict)
        response.headers["X-RateLimit-Reset"] = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(verdict.reset_epoch))
        response.headers["RateLimit-Reason"] = "jira-burst-based"
        return response

    def add_headers(self, response: Response, verdict: Verdict | None) -> None:
        """X-RateLimit-* when a budget is set, and a request id."""
        response.headers["X-AREQUESTID"] = f"sim-{int(time.time() * 1000) % 10**9}"
        if verdict is not None and verdict.allowed and self.limiter.limited:
            self._limit_headers(response, verdict.total, verdict.remaining, verdict)

    def _limit_headers(self, response: Response, total: int, remaining: int, verdict: Verdict) -> None:
        """Cloud: Limit/Remaining/NearLimit. DC: Limit/Remaining/Interval-Seconds/FillRate."""
        response.headers["X-RateLimit-Limit"] = str(total)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        if self.flavour == "dc":
            response.headers["X-RateLimit-Interval-Seconds"] = str(int(verdict.window_seconds))
            response.headers["X-RateLimit-FillRate"] = str(total)
        else:
            response.headers["X-RateLimit-NearLimit"] = "true" if remaining < 0.2 * total else "false"

    # ----- search -----------------------------------------------------------------------------------------------
    def search_jql(self, request: Request, version: str) -> Response:
        """GET|POST /rest/api/{2,3}/search/jql (Cloud)."""
        return self._search(request, lambda query, params: cloud_page(self, request, query, params, int(version)),
                            {"issues": [], "isLast": True})

    def search_legacy(self, request: Request, version: str) -> Response:
        """GET|POST /rest/api/2/search (Data Center)."""
        empty = {"expand": "schema,names", "startAt": 0, "maxResults": 50, "total": 0, "issues": []}
        return self._search(request, lambda query, params: dc_page(self, request, query, params), empty)

    def _search(self, request: Request, page: Any, empty: dict[str, Any]) -> Response:
        """Shared search flow: params, auth quirk, JQL parse, page."""
        headers = self.seraph(request)
        try:
            params = read_params(request)
            if self.auth_state(request) != "ok":
                named = self._named_projects(params.jql) if self.bad_token_project_error and headers else []
                if named:  # anonymous users see no project, so naming one fails like a missing project
                    return errors(f"The value '{named[0]}' does not exist for the field 'project'.", 400, headers)
                return json_response(empty, 200, headers)
            query = parse(params.jql, self.projects, self.zone, utcnow(),
                          self._exists if self.strict_issue_refs else None)
            return json_response(page(query, params), 200, headers)
        except JqlError as error:
            return errors(error.messages or [str(error)], 400, headers)
        except SearchError as error:
            return errors(str(error), 400, headers)
        except SearchLimit as error:
            return errors(str(error), 500, headers)

    def _named_projects(self, jql: str) -> list[str]:
        """Projects a query names (empty when it does not parse)."""
        try:
            return parse(jql, self.projects, self.zone, utcnow()).projects
        except JqlError:
            return []

    def removed(self, request: Request, version: str) -> Response:
        """/rest/api/{2,3}/search on Cloud: 410 Gone (CHANGE-2046)."""
        return errors(REMOVED, 410)

    def approximate_count(self, request: Request) -> Response:
        """POST /rest/api/3/search/approximate-count."""
        if self.auth_state(request) != "ok":
            return json_response({"count": 0}, 200, self.seraph(request))
        try:
            query = parse(str((request.get_json(silent=True) or {}).get("jql") or ""), self.projects, self.zone,
                          utcnow(), self._exists if self.strict_issue_refs else None)
            if query.where is None:
                raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction.")
        except JqlError as error:
            return errors(str(error), 400)
        with self.store.lock:
            count = len(matching(list(self.store.items.values()), query, self.store))
        return json_response({"count": self.approximate(count)})

    def approximate(self, count: int) -> int:
        """The count as approximate-count gives it: off by up to approximate_error of it (at least 1) when set."""
        if self.approximate_error <= 0:
            return count
        spread = max(1, round(count * self.approximate_error))
        return max(0, count + self._approximate_rng.randint(-spread, spread))

    # ----- other endpoints ----------------------------------------------------------------------------------------
    def myself(self, request: Request, version: str) -> Response:
        """GET /rest/api/{v}/myself: the user (with timeZone) or 401 plain text."""
        if self.auth_state(request) != "ok":
            return Response(NOT_AUTHENTICATED, 401, self.seraph(request), content_type="text/plain")
        user = {"self": f"{request.host_url}rest/api/{version}/myself", "displayName": "Simulator User",
                "emailAddress": self.credentials.get("email"), "active": True, "timeZone": self.zone.key,
                "locale": "en_US"}
        if self.flavour == "dc":
            user.update({"name": self.credentials["username"], "key": "JIRAUSER10000"})
        else:
            user.update({"accountId": "5b10sim0000000000000000", "accountType": "atlassian"})
        return json_response(user, 200, self.seraph(request))

    def _issue(self, request: Request, key: str) -> Any:
        """The live issue with this id or key, or the 401/404 response Jira gives instead."""
        state = self.auth_state(request)
        if state == "failed":
            return Response(NOT_AUTHENTICATED, 401, self.seraph(request), content_type="text/plain")
        item = self._by_number(key) if key.isdigit() else self.store.resolve(key.upper())
        if state != "ok" or item is None or item.state != "live" or not self.store.visible(item):
            return errors(NO_ISSUE, 404)  # deleted, or in a project the user may not browse: the same answer
        return item

    def get_issue(self, request: Request, version: str, key: str) -> Response:
        """GET /rest/api/{v}/issue/{idOrKey}: read-after-write consistent; deleted → 404."""
        item = self._issue(request, key)
        if isinstance(item, Response):
            return item
        wanted = wanted_fields(request.args.getlist("fields"), "*all", self.flavour)
        ctx = RenderContext(self.zone, request.host_url.rstrip("/"), self.flavour, int(version), self.peers)
        with self.store.lock:
            return json_response(render_issue(item, item.updated, item.body, ctx, wanted))

    def remote_links(self, request: Request, version: str, key: str) -> Response:
        """GET /rest/api/{v}/issue/{idOrKey}/remotelink: the issue's links to other systems (404 when gone)."""
        item = self._issue(request, key)
        if isinstance(item, Response):
            return item
        peers = dict(self.peers)
        with self.store.lock:
            links = [remote_link(source, num, peers[source], item.num * 10 + index)
                     for index, (source, num) in enumerate(item.body.get("_remote") or ()) if source in peers]
        return json_response(links)

    def list_fields(self, request: Request, version: str) -> Response:
        """GET /rest/api/{v}/field: includes the gh-sprint custom field (its id differs Cloud vs DC)."""
        ids = FIELD_IDS[self.flavour]
        system = [{"id": name, "key": name, "name": name.title(), "custom": False, "navigable": True,
                   "searchable": True, "clauseNames": [name]} for name in ("summary", "status", "updated", "created")]
        sprint = {"id": ids["sprint"], "key": ids["sprint"], "name": "Sprint", "custom": True, "navigable": True,
                  "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                             "customId": int(ids["sprint"].split("_")[1])}}
        points = {"id": ids["points"], "key": ids["points"], "name": "Story point estimate", "custom": True,
                  "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points",
                             "customId": int(ids["points"].split("_")[1])}}
        helpdesk = {"id": HELPDESK_FIELD, "key": HELPDESK_FIELD, "name": "Helpdesk ticket", "custom": True,
                    "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:url",
                               "customId": int(HELPDESK_FIELD.split("_")[1])}}
        return json_response(system + [sprint, points, helpdesk])

    def server_info(self, request: Request, version: str) -> Response:
        """GET /rest/api/{v}/serverInfo (anonymous, always 200)."""
        cloud = self.flavour == "cloud"
        return json_response({"baseUrl": request.host_url.rstrip("/"), "deploymentType": "Cloud" if cloud else "Server",
                              "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.15", "serverTitle": "Jira (sim)"})

    def list_projects(self, request: Request, version: str) -> Response:
        """GET /rest/api/{v}/project: visible projects (none for anonymous)."""
        if self.auth_state(request) != "ok":
            return json_response([], 200, self.seraph(request))
        return json_response([{"id": pid, "key": key, "name": name, "projectTypeKey": "software"}
                              for key, name, pid, _ in self.factory.projects if key not in self.store.hidden_groups])

    def search_projects(self, request: Request, version: str) -> Response:
        """GET /rest/api/{v}/project/search (paged envelope)."""
        values = self.list_projects(request, version).get_json()
        return json_response({"values": values, "isLast": True, "total": len(values), "startAt": 0,
                              "maxResults": 50})

    def render_truth(self, item: Any) -> dict[str, Any]:
        """The issue with every field, as GET issue (v3 Cloud, v2 DC) returns it."""
        version = 3 if self.flavour == "cloud" else 2
        ctx = RenderContext(self.zone, self.base_url, self.flavour, version, self.peers)
        return render_issue(item, item.updated, item.body, ctx, None)
