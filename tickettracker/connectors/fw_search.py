"""The Freshworks filter/search endpoints as the completeness audit uses them: counts and ids by creation day.

Freshservice `GET /api/v2/tickets/filter` ({"tickets", "total"}) and Freshdesk `GET /api/v2/search/tickets`
({"results", "total"}) take a query in double quotes of at most 512 characters, compare dates by whole UTC days
(`created_at:>'2024-01-01'` is on or after that day, `:<` on or before), return 30 tickets a page and pages 1 to
10 only (300 tickets per query), and lag writes by a few minutes. Deleted and spam tickets are never found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

PER_PAGE = 30
MAX_PAGES = 10
MAX_RESULTS = PER_PAGE * MAX_PAGES
MAX_QUERY = 512


@dataclass(frozen=True)
class SearchPage:
    """One page of a filter/search query: the tickets on it and the query's total."""

    tickets: list[dict[str, Any]]
    total: int


def day_query(first: date, last: date, scope: str = "", extra: str = "") -> str:
    """The quoted query for tickets created from `first` to `last` (both included), within scope and extra."""
    parts = [f"created_at:>'{first.isoformat()}'", f"created_at:<'{last.isoformat()}'"]
    parts += [f"({clause})" for clause in (scope, extra) if clause]
    query = '"' + " AND ".join(parts) + '"'
    if len(query) > MAX_QUERY:
        raise ValueError(f"a filter query is limited to {MAX_QUERY} characters: {query[:60]}…")
    return query


def any_of(field: str, values: list[str]) -> str:
    """`field:a OR field:b …` (empty for no values)."""
    return " OR ".join(f"{field}:{value}" for value in values)


def search_page(data: Any, envelope: str) -> SearchPage:
    """Read a filter/search body ({envelope: [...], "total": N}); an unexpected body reads as empty."""
    body = data if isinstance(data, dict) else {}
    tickets = body.get(envelope)
    rows = [row for row in tickets if isinstance(row, dict) and "id" in row] if isinstance(tickets, list) else []
    total = body.get("total")
    return SearchPage(rows, int(total) if isinstance(total, int) else len(rows))
