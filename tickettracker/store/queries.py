"""Read side of the ticket cache: filters, search and keyset pages."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, literal, literal_column, or_, select, tuple_

from tickettracker.core.changes import CHANGE_CLASSES
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.links import waiting_clause
from tickettracker.store.models import SyncRun, SyncRunChange, Ticket

VIEWS = {
    "incidents": ("freshservice", "freshdesk"),
    "development": ("jira",),
}
OPEN_CATEGORIES = ("open", "pending", "todo", "in_progress")
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)
FAR_PAST = datetime(1, 1, 1, tzinfo=timezone.utc)
# The constants are inlined in the SQL so the expressions match the list indexes of migration 0004.
_PAST_SQL = literal_column("'0001-01-01 00:00:00+00'::timestamptz")
_FUTURE_SQL = literal_column("'9999-01-01 00:00:00+00'::timestamptz")
SORTS: dict[str, Any] = {
    "updated": lambda: func.coalesce(Ticket.updated_at, _PAST_SQL),
    "created": lambda: func.coalesce(Ticket.created_at, _PAST_SQL),
    "due": lambda: func.coalesce(Ticket.due_by, _FUTURE_SQL),
    "priority": lambda: func.coalesce(Ticket.priority_code, -1),
}
FILTER_KEYS = ("source", "status", "priority", "group", "assignee", "project", "overdue", "q",
               "at_risk", "fr_overdue", "unassigned", "escalated", "age", "stuck",
               "created_from", "created_to", "resolved_from", "resolved_to", "waiting_dev", "changed")
VIEW_SYNC_TYPES = {"incidents": "Incidents", "development": "JIRA"}
FLAG_VALUES = ("1", "true", "yes", "on")
AT_RISK_WITHIN = timedelta(hours=24)
STUCK_AFTER = timedelta(days=3)
# Age buckets of the cockpit, as [min_days, max_days) since creation; None means no upper bound.
AGE_BUCKETS: dict[str, tuple[int, int | None]] = {
    "0-2": (0, 3), "3-7": (3, 8), "8-14": (8, 15), "15-30": (15, 31), "over-30": (31, None),
}


class BadQuery(ValueError):
    """A list request has a malformed parameter; the message says which."""


@dataclass(frozen=True)
class TicketQuery:
    """What a list page asks for."""

    view: str = "incidents"
    filters: dict[str, str] = field(default_factory=dict)
    sort: str = "updated"
    direction: str = "desc"
    cursor: str | None = None
    limit: int = 50

    @classmethod
    def from_args(cls, view: str, args: Mapping[str, str], limit: int) -> TicketQuery:
        """Parse request arguments, rejecting unknown sorts and bad limits."""
        if view not in VIEWS:
            raise BadQuery(f"unknown view {view!r}")
        sort = args.get("sort") or "updated"
        if sort not in SORTS:
            raise BadQuery(f"sort must be one of {', '.join(SORTS)}")
        direction = args.get("dir") or ("asc" if sort == "due" else "desc")
        if direction not in ("asc", "desc"):
            raise BadQuery("dir must be asc or desc")
        try:
            limit = min(max(int(args.get("limit") or limit), 1), 500)
        except ValueError:
            raise BadQuery("limit must be a whole number") from None
        filters = {k: args[k].strip() for k in FILTER_KEYS if (args.get(k) or "").strip()}
        return cls(view, filters, sort, direction, args.get("cursor") or None, limit)

    def state(self, **changes: Any) -> dict[str, str]:
        """Return the URL parameters that reproduce this query (without the cursor unless given)."""
        query = replace(self, **changes) if changes else self
        params = dict(query.filters)
        if query.sort != "updated":
            params["sort"] = query.sort
        if query.direction != ("asc" if query.sort == "due" else "desc"):
            params["dir"] = query.direction
        if changes.get("cursor"):
            params["cursor"] = changes["cursor"]
        return params


@dataclass
class TicketPage:
    """One keyset page of tickets."""

    items: list[Ticket]
    next_cursor: str | None


def encode_cursor(value: Any, row_id: int | str) -> str:
    """Encode a (sort value, id) position as an opaque URL-safe token."""
    if isinstance(value, datetime):
        payload = {"t": value.isoformat(), "id": row_id}
    else:
        payload = {"v": value, "id": row_id}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


CURSOR_MAX_LENGTH = 512
BIGINT_MAX = 2**63 - 1  # ids are PostgreSQL bigints: anything larger is not an id
INT_RANGE = (-(2**31), 2**31 - 1)
BAD_CURSOR = "cursor is not valid; start again from the first page"


def decode_cursor(token: str, value_kind: str = "any", id_kind: str = "any") -> tuple[Any, Any]:
    """Decode a cursor token or raise BadQuery.

    value_kind "time" wants a timestamp, "int" a 32-bit whole number; id_kind "int" a bigint id, "str" a short
    text id. A cursor is opaque to clients but not to forgers: anything else is refused before it reaches SQL."""
    if not isinstance(token, str) or len(token) > CURSOR_MAX_LENGTH:
        raise BadQuery(BAD_CURSOR)
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(payload, dict):
            raise TypeError(payload)
        value = _cursor_time(payload["t"]) if "t" in payload else payload["v"]
        row_id = payload["id"]
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise BadQuery(BAD_CURSOR) from None
    if not (_is_kind(value, value_kind) and _is_kind(row_id, {"int": "id", "str": "str"}.get(id_kind, id_kind))):
        raise BadQuery(BAD_CURSOR)
    return value, row_id


def _cursor_time(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise TypeError(raw)
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _is_kind(value: Any, kind: str) -> bool:
    whole = isinstance(value, int) and not isinstance(value, bool)
    checks = {
        "any": lambda: whole or isinstance(value, (str, datetime)) and (not isinstance(value, str) or len(value) < 200),
        "time": lambda: isinstance(value, datetime),
        "int": lambda: whole and INT_RANGE[0] <= value <= INT_RANGE[1],
        "id": lambda: whole and 0 <= value <= BIGINT_MAX,
        "str": lambda: isinstance(value, str) and 0 < len(value) <= 64 and "\x00" not in value,
    }
    return checks[kind]()


def valid_id(value: int) -> bool:
    """Return whether a number can be a row id (a PostgreSQL bigint)."""
    return 0 <= value <= BIGINT_MAX


def _filter_clauses(query: TicketQuery, now: datetime) -> list[ColumnElement[bool]]:
    f = query.filters
    clauses: list[ColumnElement[bool]] = [
        Ticket.source.in_(VIEWS[query.view]), ~Ticket.is_deleted, ~Ticket.is_spam,
    ]
    if "source" in f:
        clauses.append(Ticket.source == f["source"])
    if "status" in f:
        status = f["status"]
        if status == "open":
            clauses.append(Ticket.status_category.in_(OPEN_CATEGORIES))
        else:
            clauses.append(or_(Ticket.status_category == status, Ticket.status_label == status))
    if "priority" in f:
        clauses.append(Ticket.priority_label == f["priority"])
    if "group" in f:
        clauses.append(Ticket.group_name == f["group"])
    if "assignee" in f:
        clauses.append(Ticket.assignee == f["assignee"])
    if "project" in f:
        clauses.append(Ticket.project == f["project"])
    if f.get("overdue") in FLAG_VALUES:
        clauses.append(overdue_clause(now))
    if "changed" in f:
        clauses.append(changed_clause(VIEW_SYNC_TYPES[query.view], f["changed"]))
    if "q" in f:
        pattern = "%" + f["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(or_(Ticket.subject.ilike(pattern, escape="\\"), Ticket.external_id.ilike(pattern, escape="\\"),
                           Ticket.external_key.ilike(pattern, escape="\\")))
    return clauses + cockpit_clauses(f, now)


def changed_clause(sync_type: str, change: str) -> ColumnElement[bool]:
    """Match the items the last completed sync of a type changed: in any class ("1") or in one (core/changes.py)."""
    if change not in CHANGE_CLASSES and change not in FLAG_VALUES:
        raise BadQuery(f"changed must be 1 or one of {', '.join(CHANGE_CLASSES)}")
    last = (select(SyncRun.id).where(SyncRun.type == sync_type, SyncRun.status == int(SyncStatus.COMPLETED))
            .order_by(SyncRun.finished_at.desc()).limit(1).scalar_subquery())
    ids = select(func.unnest(SyncRunChange.ticket_ids)).where(SyncRunChange.run_id == last)
    if change in CHANGE_CLASSES:
        ids = ids.where(SyncRunChange.change == change)
    return Ticket.id.in_(ids)


def open_clause() -> ColumnElement[bool]:
    """Match items in any open status category."""
    return Ticket.status_category.in_(OPEN_CATEGORIES)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Match open items whose due time has passed."""
    return and_(Ticket.due_by < now, open_clause())


def at_risk_clause(now: datetime) -> ColumnElement[bool]:
    """Match open items due within the next 24 hours (not yet overdue)."""
    return and_(Ticket.due_by >= now, Ticket.due_by < now + AT_RISK_WITHIN, open_clause())


def fr_overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Match open items whose first-response due time has passed without a first response."""
    return and_(Ticket.fr_due_by < now, Ticket.first_responded_at.is_(None), open_clause())


def unassigned_clause() -> ColumnElement[bool]:
    """Match items without an assignee."""
    return or_(Ticket.assignee.is_(None), Ticket.assignee == "")


def stuck_clause(now: datetime) -> ColumnElement[bool]:
    """Match open items not updated for three days."""
    return and_(Ticket.updated_at < now - STUCK_AFTER, open_clause())


def age_clause(bucket: str, now: datetime) -> ColumnElement[bool]:
    """Match items whose age since creation falls in the named bucket."""
    if bucket not in AGE_BUCKETS:
        raise BadQuery(f"age must be one of {', '.join(AGE_BUCKETS)}")
    low, high = AGE_BUCKETS[bucket]
    clause = Ticket.created_at <= now - timedelta(days=low)
    return clause if high is None else and_(clause, Ticket.created_at > now - timedelta(days=high))


def day_start(value: str, name: str) -> datetime:
    """Parse a YYYY-MM-DD filter value as midnight UTC or raise BadQuery."""
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
    except ValueError:
        raise BadQuery(f"{name} must be a date like 2026-01-31") from None


def cockpit_clauses(f: Mapping[str, str], now: datetime) -> list[ColumnElement[bool]]:
    """Return the clauses of the filters the cockpit links use (date ranges include both end days)."""
    flags = {"at_risk": at_risk_clause, "fr_overdue": fr_overdue_clause, "stuck": stuck_clause}
    clauses = [build(now) for key, build in flags.items() if f.get(key) in FLAG_VALUES]
    if f.get("unassigned") in FLAG_VALUES:
        clauses.append(unassigned_clause())
    if f.get("escalated") in FLAG_VALUES:
        clauses.append(Ticket.is_escalated.is_(True))
    if f.get("waiting_dev") in FLAG_VALUES:
        clauses.append(waiting_clause())
    if "age" in f:
        clauses.append(age_clause(f["age"], now))
    for column, name in ((Ticket.created_at, "created"), (Ticket.resolved_at, "resolved")):
        if f.get(f"{name}_from"):
            clauses.append(column >= day_start(f[f"{name}_from"], f"{name}_from"))
        if f.get(f"{name}_to"):
            clauses.append(column < day_start(f[f"{name}_to"], f"{name}_to") + timedelta(days=1))
    return clauses


def ticket_page(query: TicketQuery, now: datetime | None = None) -> TicketPage:
    """Return one keyset page of the cache for the query."""
    now = now or datetime.now(timezone.utc)
    sort_expr = SORTS[query.sort]()
    stmt = select(Ticket).where(*_filter_clauses(query, now))
    if query.cursor:
        value, row_id = decode_cursor(query.cursor, "int" if query.sort == "priority" else "time", "int")
        position = tuple_(sort_expr, Ticket.id)
        bound = tuple_(literal(value), literal(row_id))
        stmt = stmt.where(position < bound if query.direction == "desc" else position > bound)
    order = (sort_expr.desc(), Ticket.id.desc()) if query.direction == "desc" else (sort_expr.asc(), Ticket.id.asc())
    rows = list(db.session.scalars(stmt.order_by(*order).limit(query.limit + 1)))
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        last = rows[-1]
        next_cursor = encode_cursor(_sort_value(query.sort, last), last.id)
    return TicketPage(rows, next_cursor)


def _sort_value(sort: str, ticket: Ticket) -> Any:
    if sort == "updated":
        return ticket.updated_at or FAR_PAST
    if sort == "created":
        return ticket.created_at or FAR_PAST
    if sort == "due":
        return ticket.due_by or FAR_FUTURE
    return ticket.priority_code if ticket.priority_code is not None else -1


def filter_options(view: str) -> dict[str, list[str]]:
    """Return the distinct values the filter menus offer, cached per app until the cache changes."""
    marker = db.session.execute(select(
        select(func.max(SyncRun.finished_at)).where(SyncRun.status == int(SyncStatus.COMPLETED)).scalar_subquery(),
        select(func.max(Ticket.id)).scalar_subquery())).one()
    cache = current_app.extensions.setdefault("tt_filter_options", {})
    key = (view, tuple(marker))
    if key not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[key] = _distinct_values(view)
    return cache[key]


def _distinct_values(view: str) -> dict[str, list[str]]:
    base = and_(Ticket.source.in_(VIEWS[view]), ~Ticket.is_deleted, ~Ticket.is_spam)
    options: dict[str, list[str]] = {}
    for name, column in (("status", Ticket.status_label), ("priority", Ticket.priority_label),
                         ("group", Ticket.group_name), ("project", Ticket.project), ("assignee", Ticket.assignee)):
        values = db.session.scalars(
            select(column).where(base, column.is_not(None)).distinct().order_by(column).limit(200)
        )
        options[name] = [v for v in values if v]
    return options


def ticket_by_id(ticket_id: int) -> Ticket | None:
    """Return one cached item by its internal id (None for a number that cannot be an id)."""
    return db.session.get(Ticket, ticket_id) if valid_id(ticket_id) else None


