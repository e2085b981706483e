"""Pages under the production server: the incident tracker (page, htmx partial) vs its bare SQL; the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from .harness import BenchError
from .load import HttpClient, Load, http_load, sql_load
from .results import Row, count, median, ms, percentile

CLIENTS = 32
HTMX = {"HX-Request": "true"}
DASHBOARD_GOAL_P99 = 0.150


@dataclass(frozen=True)
class PagePlan:
    """How long and how often to load the pages."""

    seconds: float
    rounds: int
    dashboard_requests: int


def capture_ticket_sql(app: Any) -> tuple[str, dict[str, Any]]:
    """Return the SQL (and parameters) that ticket_page emits for the default /incidents view."""
    from tickettracker.core.config import get_settings
    from tickettracker.store.extensions import db
    from tickettracker.store.queries import TicketQuery, ticket_page

    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        """Remember each statement the engine sends."""
        seen.append((statement, parameters))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", grab)
        try:
            ticket_page(TicketQuery.from_args("incidents", {}, get_settings().page_size))
        finally:
            event.remove(db.engine, "before_cursor_execute", grab)
            db.session.remove()
    found = [(sql, params) for sql, params in seen if "FROM tickets" in sql and "LIMIT" in sql]
    if len(found) != 1:
        raise BenchError(f"expected one ticket_page statement, captured {len(seen)}: {seen!r:.300}")
    return found[0][0], dict(found[0][1])


def _warm(url: str, paths: list[tuple[str, dict[str, str]]], times: int = 3) -> None:
    """Request each page a few times so caches and pools are warm; fail on a non-200."""
    client = HttpClient(url)
    try:
        for path, headers in paths * times:
            status, _ = client.request("GET", path, headers)
            if status != 200:
                raise BenchError(f"GET {path} answered {status}")
    finally:
        client.close()


def measure_tracker(url: str, conninfo: str, app: Any, plan: PagePlan, cookie: str) -> list[Row]:
    """Load /incidents, its htmx partial and the bare SQL side by side, `plan.rounds` times each (signed in)."""
    statement, params = capture_ticket_sql(app)
    page, partial = {"Cookie": cookie}, {"Cookie": cookie, **HTMX}
    _warm(url, [("/incidents", page), ("/incidents", partial)])
    runs: dict[str, list[Load]] = {"page": [], "partial": [], "sql": []}
    for _ in range(plan.rounds):
        runs["page"].append(http_load(url, "/incidents", CLIENTS, plan.seconds, page))
        runs["partial"].append(http_load(url, "/incidents", CLIENTS, plan.seconds, partial))
        runs["sql"].append(sql_load(conninfo, statement, params, CLIENTS, plan.seconds))
    each = f"{CLIENTS} clients, {plan.rounds} × {plan.seconds:g} s"
    return [_tracker_row("1a", f"GET /incidents (full page), {each}", runs["page"], runs["sql"]),
            _tracker_row("1b", f"GET /incidents + HX-Request (htmx partial), {each}", runs["partial"], runs["sql"]),
            Row("1c", f"its ticket_page SQL alone (psycopg, {each.replace('clients', 'threads')}, side by side)",
                _figure(runs["sql"], "q/s"), "baseline")]


def _figure(loads: list[Load], unit: str) -> str:
    """Describe the median p50, p99 and rate over the rounds."""
    return (f"p50 {ms(median([x.p50 for x in loads]))}, p99 {ms(median([x.p99 for x in loads]))}, "
            f"{count(median([x.rate for x in loads]))} {unit}")


def _tracker_row(key: str, what: str, loads: list[Load], sql: list[Load]) -> Row:
    """A page row whose ratio is the median of per-round (page ÷ SQL) p50 and throughput ratios."""
    slower = median([page.p50 / base.p50 for page, base in zip(loads, sql, strict=True)])
    share = median([page.rate / base.rate for page, base in zip(loads, sql, strict=True)])
    return Row(key, what, _figure(loads, "req/s"), "— (none set)",
               f"p50 {slower:.1f}× SQL; {share:.2f}× SQL q/s")


def measure_dashboard(url: str, plan: PagePlan, cookie: str) -> list[Row]:
    """Time GET / one request at a time with bench/cockpit.py's timer, `plan.rounds` rounds (signed in)."""
    from bench.cockpit import time_requests

    client, headers = HttpClient(url), {"Cookie": cookie}
    p50s, p99s = [], []
    try:
        time_requests(client, "/", 3, headers)
        for _ in range(plan.rounds):
            durations = time_requests(client, "/", plan.dashboard_requests, headers)
            p50s.append(median(durations))
            p99s.append(percentile(durations, 0.99))
    except SystemExit as stop:  # cockpit's timer exits on a non-200
        raise BenchError(str(stop)) from None
    finally:
        client.close()
    p99 = median(p99s)
    return [Row("2", f"GET / dashboard (1 client, {plan.dashboard_requests} requests × {plan.rounds})",
                f"p50 {ms(median(p50s))}, p99 {ms(p99)}", "p99 ≤ 150 ms", f"{p99 / DASHBOARD_GOAL_P99:.2f}× goal",
                p99 <= DASHBOARD_GOAL_P99)]
