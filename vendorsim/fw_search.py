"""Freshservice `GET /api/v2/tickets/filter` and Freshdesk `GET /api/v2/search/tickets`.

As vendor-apis.md describes them: `query="..."` wrapped in double quotes and at most 512 characters, `field:value`
terms joined by AND / OR with parentheses, `:>` (on or after) and `:<` (on or before) for dates given as
'yyyy-mm-dd' (day granularity, UTC), 30 tickets per page, pages 1 to 10 only, and a `total`. Deleted, spam and
archived tickets are never found. Search is eventually consistent: with the store's consistency_delay, a change
(state changes included) shows in totals and results only that many seconds after it was made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from vendorsim.responses import json_response
from vendorsim.store import Item, Snapshot
from vendorsim.timeutil import utcnow

PER_PAGE = 30
MAX_PAGES = 10
MAX_QUERY = 512
DATE_FIELDS = frozenset({"created_at", "updated_at", "due_by", "fr_due_by"})
BODY_FIELDS = {"status": "status", "priority": "priority", "group_id": "group_id", "agent_id": "responder_id",
               "requester_id": "requester_id", "workspace_id": "workspace_id", "type": "type"}
TOKEN = re.compile(r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<word>AND|OR)\b|"
                   r"(?P<term>[a-z_]+:[<>]?(?:'[^']*'|[^\s()]+)))", re.IGNORECASE)
Predicate = Callable[[Item, Snapshot], bool]


class QueryError(ValueError):
    """A query the vendor refuses (400 with the Freshworks validation envelope)."""

    def __init__(self, field: str, message: str, code: str = "invalid_value") -> None:
        """Keep the envelope's parts."""
        super().__init__(message)
        self.field, self.code = field, code

    def response(self) -> Response:
        """The 400 the vendor sends."""
        return json_response({"description": "Validation failed",
                              "errors": [{"field": self.field, "message": str(self), "code": self.code}]}, 400)


@dataclass(frozen=True)
class SearchView:
    """What the lagging index shows of one ticket: the ticket, the state and the snapshot (updated time, body)."""

    item: Item
    state: str
    snapshot: Snapshot


def parse_query(raw: str | None, fields: frozenset[str]) -> Predicate:
    """Parse `"..."` into a predicate over (item, snapshot); raise QueryError like the vendor."""
    if raw is None or not raw.strip():
        raise QueryError("query", "It should be a/an String", "missing_field")
    text = raw.strip()
    if len(text) > MAX_QUERY:
        raise QueryError("query", f"Has {len(text)} characters, it can have maximum of {MAX_QUERY} characters")
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise QueryError("query", "Query should be wrapped in double quotes")
    tokens = _tokens(text[1:-1])
    parser = _Parser(tokens, fields)
    predicate = parser.expression()
    if parser.position != len(tokens):
        raise QueryError("query", "Invalid query syntax")
    return predicate


def _tokens(text: str) -> list[tuple[str, str]]:
    """Split a query into ('open'|'close'|'word'|'term', text) tokens."""
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = TOKEN.match(text, position)
        if match is None:
            raise QueryError("query", "Invalid query syntax")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind).upper() if kind == "word" else match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent: expression := conjunction (OR conjunction)*; conjunction := atom (AND atom)*."""

    def __init__(self, tokens: list[tuple[str, str]], fields: frozenset[str]) -> None:
        """Start at the first token."""
        self.tokens, self.fields, self.position = tokens, fields, 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def expression(self) -> Predicate:
        """Terms joined by OR."""
        parts = [self._conjunction()]
        while self._peek() == ("word", "OR"):
            self.position += 1
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else (lambda item, snap: any(p(item, snap) for p in parts))

    def _conjunction(self) -> Predicate:
        parts = [self._atom()]
        while self._peek() == ("word", "AND"):
            self.position += 1
            parts.append(self._atom())
        return parts[0] if len(parts) == 1 else (lambda item, snap: all(p(item, snap) for p in parts))

    def _atom(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise QueryError("query", "Invalid query syntax")
        self.position += 1
        if token[0] == "open":
            inner = self.expression()
            if self._peek() != ("close", ")"):
                raise QueryError("query", "Invalid query syntax")
            self.position += 1
            return inner
        if token[0] != "term":
            raise QueryError("query", "Invalid query syntax")
        return self._term(token[1])

    def _term(self, term: str) -> Predicate:
        field, _, rest = term.partition(":")
        field = field.lower()
        if field not in self.fields:
            raise QueryError(field, "Unexpected/invalid field in request", "invalid_field")
        op = rest[0] if rest[:1] in ("<", ">") else "="
        value = (rest[1:] if op != "=" else rest).strip("'")
        if field in DATE_FIELDS:
            return _date_term(field, op, value)
        if op != "=":
            raise QueryError(field, "only :> and :< are supported for date and date_time fields")
        return _value_term(field, value)


def _date_term(field: str, op: str, value: str) -> Predicate:
    """`created_at:>'2024-01-01'` (on or after that day) / `:<` (on or before); UTC days."""
    if op == "=":
        raise QueryError(field, "only :> and :< are supported for date and date_time fields")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(field, "It should be in the 'yyyy-mm-dd' format", "datatype_mismatch") from None

    def moment(item: Item, snap: Snapshot) -> date | None:
        if field == "created_at":
            return item.created.date()
        if field == "updated_at":
            return snap.updated.date()
        raw = snap.body.get(field)
        return date.fromisoformat(raw[:10]) if isinstance(raw, str) else None

    if op == ">":
        return lambda item, snap: (found := moment(item, snap)) is not None and found >= day
    return lambda item, snap: (found := moment(item, snap)) is not None and found <= day


def _value_term(field: str, value: str) -> Predicate:
    """`status:2`, `priority:3`, `workspace_id:2`, `type:'Incident'`: equality on the ticket's field."""
    key = BODY_FIELDS[field]
    if value.lower() == "null":
        return lambda item, snap: snap.body.get(key) is None
    return lambda item, snap: str(snap.body.get(key)) == value


def search_views(items: list[Item], store: Any) -> list[SearchView]:
    """Every ticket as the lagging index shows it now (its state included), live or not."""
    now = utcnow()
    views = []
    for item in items:
        lagging = item.visible_at is not None and now < item.visible_at
        snap = store.search_view(item, now)
        if snap is None:
            continue  # created too recently to be indexed
        views.append(SearchView(item, snap.state if lagging else item.state, snap))
    return views


def search_response(app: Any, request: Request, envelope: str, fields: frozenset[str]) -> Response:
    """One page of a filter/search query: {envelope: [...], "total": N} or the vendor's 400."""
    for key in request.args:
        if key not in ("query", "page"):
            return QueryError(key, "Unexpected/invalid field in request", "invalid_field").response()
    raw_page = request.args.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1:
        return QueryError("page", "It should be a Positive Integer").response()
    page = int(raw_page)
    if page > MAX_PAGES:
        return QueryError("page", f"Value must be less than or equal to {MAX_PAGES}").response()
    try:
        predicate = parse_query(request.args.get("query"), fields)
    except QueryError as error:
        return error.response()
    with app.store.lock:
        views = search_views(list(app.store.items.values()), app.store)
        rows = [view for view in views if view.state == "live" and predicate(view.item, view.snapshot)]
        rows.sort(key=lambda view: (view.item.created, view.item.num), reverse=True)
        start = (page - 1) * PER_PAGE
        tickets = [app.render_search(view.item, view.snapshot) for view in rows[start:start + PER_PAGE]]
    return json_response({envelope: tickets, "total": len(rows)})

