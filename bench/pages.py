"""Pages under the production server: the incident tracker (page, htmx partial) vs its bare SQL; the dashboard."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import event

from .harness import BenchError
from .load import HttpClient, Load, sql_load
from .results import Row, count, median, ms, percentile
from .wrk import wrk_load

CLIENTS = 32
HTMX = {"HX-Request": "true"}
DASHBOARD_GOAL_P99 = 0.150
TRACKER_RATE, DASHBOARD_RATE = 500, 400  # warm, req/s at 32 connections
WARM_P99 = 0.100
SQL_FACTOR = 3.0  # warm page p50 at most this many times the bare ticket_page SQL's p50
TRACKER_COLD, DASHBOARD_COLD = 0.300, 0.400  # one request right after a commit
COLD_TIMES = 5
GENERATION = "tt:gen:{}"  # tickettracker.store.generations.KEY


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


def cold_request(url: str, redis_url: str, data_set: str, path: str, headers: dict[str, str], times: int) -> float:
    """Median seconds of one request right after its data set's generation moved (a commit), `times` times."""
    redis, client, took = Redis.from_url(redis_url), HttpClient(url), []
    try:
        for _ in range(times):
            redis.incr(GENERATION.format(data_set))
            started = time.perf_counter()
            status, _ = client.request("GET", path, headers)
            took.append(time.perf_counter() - started)
            if status != 200:
                raise BenchError(f"GET {path} answered {status}")
    finally:
        client.close()
    return median(took)


def measure_tracker(url: str, conninfo: str, app: Any, plan: PagePlan, cookie: str, redis_url: str) -> list[Row]:
    """Load /incidents and its htmx partial with wrk (cache warm) beside the bare SQL from psycopg threads,
    `plan.rounds` times each; then time single requests right after a commit (cache cold)."""
    statement, params = capture_ticket_sql(app)
    page, partial = {"Cookie": cookie}, {"Cookie": cookie, **HTMX}
    _warm(url, [("/incidents", page), ("/incidents", partial)])
    # Cold first: after a wrk phase the server may still be working off queued requests for a while.
    cold_page = cold_request(url, redis_url, "Incidents", "/incidents", page, COLD_TIMES)
    cold_partial = cold_request(url, redis_url, "Incidents", "/incidents", partial, COLD_TIMES)
    _warm(url, [("/incidents", page), ("/incidents", partial)])
    runs: dict[str, list[Load]] = {"page": [], "partial": [], "sql": []}
    for _ in range(plan.rounds):
        runs["page"].append(wrk_load(url, "/incidents", CLIENTS, plan.seconds, page))
        runs["partial"].append(wrk_load(url, "/incidents", CLIENTS, plan.seconds, partial))
        runs["sql"].append(sql_load(conninfo, statement, params, CLIENTS, plan.seconds))
    each = f"wrk, {CLIENTS} connections, {plan.rounds} × {plan.seconds:g} s, cache warm"
    return [_tracker_row("1a", f"GET /incidents (full page), {each}", runs["page"], runs["sql"]),
            _tracker_row("1b", f"GET /incidents + HX-Request (htmx partial), {each}", runs["partial"], runs["sql"]),
            Row("1c", f"its ticket_page SQL alone (psycopg, {CLIENTS} threads, {plan.rounds} × {plan.seconds:g} s, "
                      "same run)", _figure(runs["sql"], "q/s"), "baseline"),
            _cold_row("1d", "GET /incidents (full page), cache cold: one request right after a commit", cold_page,
                      TRACKER_COLD),
            _cold_row("1e", "GET /incidents + HX-Request, cache cold: one request right after a commit",
                      cold_partial, TRACKER_COLD)]


def _figure(loads: list[Load], unit: str) -> str:
    """Describe the median p50, p99 and rate over the rounds."""
    return (f"p50 {ms(median([x.p50 for x in loads]))}, p99 {ms(median([x.p99 for x in loads]))}, "
            f"{count(median([x.rate for x in loads]))} {unit}")


def _tracker_row(key: str, what: str, loads: list[Load], sql: list[Load]) -> Row:
    """A page row: goals on throughput, p99 and p50 against the SQL's p50 (median of per-round ratios)."""
    slower = median([page.p50 / base.p50 for page, base in zip(loads, sql, strict=True)])
    rate, p99 = median([x.rate for x in loads]), median([x.p99 for x in loads])
    ok = rate >= TRACKER_RATE and p99 <= WARM_P99 and slower <= SQL_FACTOR
    return Row(key, what, _figure(loads, "req/s"),
               f"≥ {TRACKER_RATE} req/s, p99 ≤ {WARM_P99 * 1000:.0f} ms, p50 ≤ {SQL_FACTOR:g}× SQL p50",
               f"{rate / TRACKER_RATE:.2f}× rate; p99 {p99 / WARM_P99:.2f}× goal; p50 {slower:.2f}× SQL", ok)


def _cold_row(key: str, what: str, seconds: float, goal: float) -> Row:
    return Row(key, f"{what} (median of {COLD_TIMES})", ms(seconds), f"≤ {goal * 1000:.0f} ms",
               f"{seconds / goal:.2f}× goal", seconds <= goal)


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


def measure_dashboard_load(url: str, plan: PagePlan, cookie: str, redis_url: str) -> list[Row]:
    """GET / with wrk at 32 connections (cache warm), and single requests right after a commit (cache cold)."""
    headers = {"Cookie": cookie}
    cold = cold_request(url, redis_url, "runs", "/", headers, COLD_TIMES)  # before wrk leaves a queue behind
    _warm(url, [("/", headers)])
    loads = [wrk_load(url, "/", CLIENTS, plan.seconds, headers) for _ in range(plan.rounds)]
    rate, p99 = median([x.rate for x in loads]), median([x.p99 for x in loads])
    time.sleep(plan.seconds)  # let the server work off what wrk left queued before anything else is timed
    return [Row("2a", f"GET / dashboard, wrk, {CLIENTS} connections, {plan.rounds} × {plan.seconds:g} s, cache warm",
                _figure(loads, "req/s"), f"≥ {DASHBOARD_RATE} req/s, p99 ≤ {WARM_P99 * 1000:.0f} ms",
                f"{rate / DASHBOARD_RATE:.2f}× rate; p99 {p99 / WARM_P99:.2f}× goal",
                rate >= DASHBOARD_RATE and p99 <= WARM_P99),
            _cold_row("2b", "GET / dashboard, cache cold: one request right after a commit", cold, DASHBOARD_COLD)]
