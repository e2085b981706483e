"""CSV downloads of the tracker lists and the sync history, streamed a keyset page at a time (never built in memory).
Moments are UTC ISO 8601; a cell that a spreadsheet would run as a formula is prefixed with an apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from flask import Response, stream_with_context

from tickettracker.core.times import iso_utc
from tickettracker.store.models import Ticket
from tickettracker.store.queries import TicketQuery, ticket_page
from tickettracker.store.serialize import run_json
from tickettracker.sync.status import HistoryQuery, history_page

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TICKET_COLUMNS: list[tuple[str, Callable[[Ticket], Any]]] = [
    ("source", lambda t: t.source), ("key", lambda t: t.reference), ("subject", lambda t: t.subject),
    ("status", lambda t: t.status_label or t.status_code), ("status_category", lambda t: t.status_category),
    ("priority", lambda t: t.priority_label), ("group", lambda t: t.group_name), ("project", lambda t: t.project),
    ("assignee", lambda t: t.assignee), ("requester", lambda t: t.requester),
    ("created_at", lambda t: iso_utc(t.created_at)), ("updated_at", lambda t: iso_utc(t.updated_at)),
    ("due_by", lambda t: iso_utc(t.due_by)), ("first_response_due_by", lambda t: iso_utc(t.fr_due_by)),
    ("resolved_at", lambda t: iso_utc(t.resolved_at)), ("url", lambda t: t.url),
]
RUN_COLUMNS = [("queued_at", "queuedAt"), ("type", "type"), ("status", "statusName"), ("trigger", "trigger"),
               ("requested_by", "requestedBy"), ("attempt", "attempt"), ("started_at", "startedAt"),
               ("finished_at", "finishedAt"), ("duration_seconds", "durationSeconds"), ("fetched", "fetched"),
               ("created", "created"), ("updated", "updated"), ("deleted", "deleted"), ("requests", "requests"),
               ("message", "message"), ("error", "error"), ("run_id", "jobId")]
PAGE = 500


def safe_cell(value: Any) -> Any:
    """Return a cell value a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """Yield the CSV text of a header and rows, a batch of rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(value) for value in row])
        if count % 100 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def ticket_rows(query: TicketQuery) -> Iterator[list[Any]]:
    """Yield every item of a tracker query (its filters and order), a keyset page at a time."""
    query = replace(query, cursor=None, limit=PAGE)
    while True:
        page = ticket_page(query)
        for ticket in page.items:
            yield [value(ticket) for _, value in TICKET_COLUMNS]
        if not page.next_cursor:
            return
        query = replace(query, cursor=page.next_cursor)


def run_rows(query: HistoryQuery) -> Iterator[list[Any]]:
    """Yield every run of a history query, newest first, a cursor page at a time."""
    query = replace(query, cursor=None, limit=200)
    while True:
        runs, cursor = history_page(query)
        for run in runs:
            data = run_json(run)
            yield [data.get(key) for _, key in RUN_COLUMNS]
        if not cursor:
            return
        query = replace(query, cursor=cursor)


def csv_response(name: str, header: list[str], rows: Iterator[list[Any]]) -> Response:
    """Return a streamed CSV download named after what it holds and when it was taken."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%MZ")
    return Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'})


def tickets_csv(name: str, query: TicketQuery) -> Response:
    """Return the CSV download of a tracker list."""
    return csv_response(name, [column for column, _ in TICKET_COLUMNS], ticket_rows(query))


def runs_csv(query: HistoryQuery) -> Response:
    """Return the CSV download of the sync history."""
    return csv_response("sync-runs", [column for column, _ in RUN_COLUMNS], run_rows(query))
