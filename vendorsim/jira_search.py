"""Jira issue search: Cloud /search/jql (nextPageToken, isLast) and Data Center /rest/api/2/search (startAt, total)."""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from vendorsim.jira_data import FIELD_IDS, RenderContext, render_issue
from vendorsim.jql import Jql, JqlError
from vendorsim.links import HELPDESK_FIELD
from vendorsim.store import Item, Snapshot
from vendorsim.timeutil import utcnow

BASE_FIELDS = ["summary", "status", "priority", "issuetype", "assignee", "reporter", "project", "labels", "created",
               "updated", "resolutiondate", "resolution", "duedate", "description"]
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
STALE_CURSOR_MESSAGE = "The provided next page token is invalid or expired."


class SearchError(ValueError):
    """A 400 for a search request."""


@dataclass
class SearchParams:
    """Search inputs from the query string (GET) or JSON body (POST)."""

    jql: str
    token: str | None
    max_results: str | int | None
    start_at: str | int | None
    fields: list[str]


def read_params(request: Request) -> SearchParams:
    """Collect search parameters the same way for GET and POST."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise SearchError("Invalid request payload. Refer to the REST API documentation and try again.")
        fields = body.get("fields") or []
        return SearchParams(str(body.get("jql") or ""), body.get("nextPageToken"), body.get("maxResults"),
                            body.get("startAt"), fields if isinstance(fields, list) else [str(fields)])
    args = request.args
    return SearchParams(args.get("jql", ""), args.get("nextPageToken"), args.get("maxResults"), args.get("startAt"),
                        args.getlist("fields"))


def wanted_fields(raw: list[str], default: str, flavour: str) -> set[str] | None:
    """Resolve `fields`: None = every field; a subset of {id, key} = id-only; `-name` excludes."""
    names = [name.strip() for value in raw for name in str(value).split(",") if name.strip()] or [default]
    every = BASE_FIELDS + list(FIELD_IDS[flavour].values()) + [HELPDESK_FIELD]
    excluded = {name[1:] for name in names if name.startswith("-")}
    if any(name in ("*all", "*navigable") for name in names):
        return None if not excluded else set(every) - excluded
    return {name for name in names if not name.startswith("-")} - excluded


def as_int(value: str | int | None, default: int, name: str, minimum: int) -> int:
    """Parse an integer parameter or raise SearchError."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SearchError(f"The value '{value}' is invalid for the parameter '{name}'.") from None
    if number < minimum:
        raise SearchError(f"The value '{value}' is invalid for the parameter '{name}'.")
    return number


def encode_token(offset: int, jql: str) -> str:
    """An opaque page token bound to the query text."""
    raw = f"{offset}:{zlib.crc32(jql.encode()):08x}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, jql: str) -> int:
    """Return the offset a token stands for, or raise SearchError."""
    if not token:
        return 0
    try:
        offset, digest = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        if digest != f"{zlib.crc32(jql.encode()):08x}":
            raise ValueError(digest)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise SearchError(STALE_CURSOR_MESSAGE) from None


def matching(items: list[Item], query: Jql, store: Any) -> list[tuple[Item, Snapshot]]:
    """Rows the (eventually consistent) index returns for a parsed query, sorted; issues of projects the user may
    not browse are left out, and ties on the ORDER BY clause may come in any order (the tie-shuffle switch)."""
    now = utcnow()
    rows = []
    for item in items:
        if item.state != "live" or not store.visible(item):
            continue
        snap = store.search_view(item, now)
        if snap is not None and (query.where is None or query.where(item, snap)):
            rows.append((item, snap))
    query.sort(rows)
    return store.shuffle_ties(rows, query.sort_key)


def cloud_page(app: Any, request: Request, query: Jql, params: SearchParams, version: int) -> dict[str, Any]:
    """One /search/jql page: id-only by default, capped page size, nextPageToken until isLast."""
    if query.where is None:
        raise JqlError(UNBOUNDED)
    wanted = wanted_fields(params.fields, "id", app.flavour)
    cap = 5000 if wanted is not None and wanted <= {"id", "key"} else 100
    size = min(as_int(params.max_results, 50, "maxResults", 1), cap)
    offset = decode_token(params.token, params.jql)
    ctx = RenderContext(app.zone, request.host_url.rstrip("/"), app.flavour, version, app.peers)
    with app.store.lock:
        rows = matching(list(app.store.items.values()), query, app.store)
        issues = [render_issue(item, snap.updated, snap.body, ctx, wanted) for item, snap in rows[offset:offset + size]]
    is_last = offset + size >= len(rows)
    page: dict[str, Any] = {"issues": issues, "isLast": is_last}
    if not is_last or app.stale_token_on_last_page:
        page["nextPageToken"] = encode_token(offset + size, params.jql)
    return page


def dc_page(app: Any, request: Request, query: Jql, params: SearchParams) -> dict[str, Any]:
    """One legacy /rest/api/2/search page with startAt/maxResults/total; deep windows fail with SearchLimit."""
    wanted = wanted_fields(params.fields, "*navigable", app.flavour)
    size = min(as_int(params.max_results, 50, "maxResults", 0), 100)
    start = as_int(params.start_at, 0, "startAt", 0)
    if start + size > app.dc_max_result_window:
        raise SearchLimit(start + size, app.dc_max_result_window)
    ctx = RenderContext(app.zone, request.host_url.rstrip("/"), app.flavour, 2, app.peers)
    with app.store.lock:
        rows = matching(list(app.store.items.values()), query, app.store)
        issues = [render_issue(item, snap.updated, snap.body, ctx, wanted) for item, snap in rows[start:start + size]]
    return {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(rows), "issues": issues}


class SearchLimit(Exception):
    """Data Center's OpenSearch max_result_window was exceeded (answered with 500)."""

    def __init__(self, requested: int, window: int) -> None:
        """Keep the numbers for the message."""
        super().__init__(f"Search limit exceeded. We couldn't complete the search because it requested {requested:,} "
                         f"results which exceeded the search platform limit of {window:,}.")
