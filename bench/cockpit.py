"""Benchmark the governance cockpit: 200,000 helpdesk tickets and 50,000 Jira issues in a scratch database.

Run:  .venv/bin/python bench/cockpit.py [--tickets 200000] [--issues 50000] [--requests 30] [--keep]
Creates (and drops) a database named tt_bench_<hex> on 127.0.0.1:5432, migrates it, seeds it with SQL
(generate_series), then times the dashboard through the Flask test client and reports the slowest SQL statement.
"""

from __future__ import annotations

import argparse
import math
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tickettracker import create_app  # noqa: E402
from tickettracker.store.extensions import db  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

HELPDESK_SQL = """
INSERT INTO tickets (source, external_id, kind, subject, status_code, status_label, status_category,
    priority_code, priority_label, assignee, group_name, created_at, updated_at, due_by, fr_due_by,
    first_responded_at, resolved_at, is_escalated, is_deleted, is_spam, tags, custom_fields, raw)
SELECT src, g::text, CASE WHEN r.k < 0.7 THEN 'incident' ELSE 'service_request' END, 'Ticket ' || g,
    cat, initcap(cat), cat, pr, (ARRAY['Low','Medium','High','Urgent'])[pr],
    CASE WHEN r.a < 0.1 THEN NULL ELSE 'agent ' || mod(g, 40) END, 'Group ' || mod(g, 12),
    created, LEAST(now(), created + r.u * interval '20 days'), created + (1 + r.d * 9) * interval '1 day',
    created + interval '4 hours', CASE WHEN r.f < 0.8 THEN created + r.f * interval '8 hours' END,
    CASE WHEN cat IN ('resolved', 'closed') THEN LEAST(now(), created + r.u * interval '20 days') END,
    r.e < 0.05, r.x < 0.01, r.x > 0.995, '{}', '{}', '{}'
FROM generate_series(1, %(n)s) g
CROSS JOIN LATERAL (SELECT random() k, random() a, random() u, random() d, random() f, random() e, random() x,
                           random() s, random() c, random() p, random() t, g AS gg) r
CROSS JOIN LATERAL (SELECT CASE WHEN r.s < 0.6 THEN 'freshservice' ELSE 'freshdesk' END src,
    CASE WHEN r.c < 0.08 THEN 'open' WHEN r.c < 0.12 THEN 'pending' WHEN r.c < 0.32 THEN 'resolved'
         ELSE 'closed' END cat,
    1 + floor(r.p * 4)::int pr, now() - r.t * interval '730 days' created) v
"""

JIRA_SQL = """
INSERT INTO tickets (source, external_id, kind, subject, status_label, status_category, priority_code,
    priority_label, assignee, project, created_at, updated_at, resolved_at, is_deleted, is_escalated, is_spam, tags,
    custom_fields, raw)
SELECT 'jira', proj || '-' || g, 'jira_issue', 'Issue ' || g, initcap(replace(cat, '_', ' ')), cat, 3, 'Medium',
    CASE WHEN r.a < 0.2 THEN NULL ELSE 'dev ' || mod(g, 60) END, proj, created,
    LEAST(now(), created + r.u * interval '30 days'),
    CASE WHEN cat = 'done' THEN LEAST(now(), created + r.u * interval '30 days') END, r.x < 0.01, false, false,
    '{}', '{}', '{}'
FROM generate_series(1, %(n)s) g
CROSS JOIN LATERAL (SELECT random() a, random() u, random() x, random() c, random() t, g AS gg) r
CROSS JOIN LATERAL (SELECT 'P' || mod(g, 15) proj,
    CASE WHEN r.c < 0.2 THEN 'todo' WHEN r.c < 0.35 THEN 'in_progress' ELSE 'done' END cat,
    now() - r.t * interval '730 days' created) v
"""

def create_database() -> tuple[str, str]:
    """Create a scratch database and return its name and URL."""
    name = f"tt_bench_{secrets.token_hex(5)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    """Drop the scratch database."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, tickets: int, issues: int) -> float:
    """Fill the cache with SQL only; return the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(HELPDESK_SQL, {"n": tickets})
        conn.execute(JIRA_SQL, {"n": issues})
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def seed_history(app: Any, days: int = 30, runs: int = 500) -> None:
    """Store hourly completed sync runs per type and one KPI snapshot per day for the trend charts."""
    from tickettracker.cockpit.snapshots import take_snapshot
    from tickettracker.core.vocabulary import SyncStatus
    from tickettracker.store.models import SyncRun

    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.add_all(SyncRun(id=f"{kind}-{n}", type=kind, trigger="scheduled", status=int(SyncStatus.COMPLETED),
                                   queued_at=now - timedelta(hours=n, minutes=3), started_at=now - timedelta(hours=n),
                                   finished_at=now - timedelta(hours=n) + timedelta(minutes=2))
                           for kind in ("Incidents", "JIRA") for n in range(runs))
        db.session.commit()
        for back in range(days, 0, -1):
            take_snapshot("daily", now=now - timedelta(days=back))


class QueryTimer:
    """Collect the duration of every SQL statement the engine runs."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self._started: list[float] = []

    def attach(self, engine: Any) -> None:
        """Listen to the engine's cursor events."""
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.times[" ".join(statement.split())].append(time.perf_counter() - self._started.pop())

    def ranking(self) -> list[tuple[str, float, float, int]]:
        """Return (statement, median, max, count) for every statement, slowest median first."""
        rows = [(sql, statistics.median(t), max(t), len(t)) for sql, t in self.times.items()]
        return sorted(rows, key=lambda row: -row[1])

    def slowest(self) -> tuple[str, float, float]:
        """Return the statement with the highest median time, its median and its maximum (seconds)."""
        statement, times = max(self.times.items(), key=lambda item: statistics.median(item[1]))
        return statement, statistics.median(times), max(times)


def signed_in_client(app: Any) -> Any:
    """Return a test client signed in as a viewer created for the benchmark (the pages need a session)."""
    from tickettracker.web.auth.users import create_user

    password = secrets.token_urlsafe(16)
    with app.app_context():
        create_user("bench", password, "viewer")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    form = {"username": "bench", "password": password, "csrf_token": token.group(1) if token else ""}
    if client.post("/login", data=form).status_code >= 400:
        raise SystemExit("could not sign in to the scratch app")
    return client


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def time_requests(client: Any, path: str, count: int, headers: dict[str, str] | None = None) -> list[float]:
    """Request a path count times; return the durations in seconds."""
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers=headers or {})
        durations.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return durations


def report(label: str, durations: list[float]) -> None:
    """Print p50 and p99 in milliseconds."""
    print(f"{label:<38} p50 {statistics.median(durations) * 1000:7.1f} ms   "
          f"p99 {percentile(durations, 0.99) * 1000:7.1f} ms   (n={len(durations)})")


def run(url: str, args: argparse.Namespace) -> None:
    """Migrate, seed, and time the dashboard."""
    from flask_migrate import upgrade

    app = create_app({"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/0", "SECRET_KEY": "b" * 32,
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="tt-bench-"), "SESSION_COOKIE_SECURE": "false"})
    with app.app_context():
        upgrade()
    seconds = seed(url, args.tickets, args.issues)
    print(f"seeded {args.tickets:,} tickets and {args.issues:,} Jira issues in {seconds:.1f} s")
    seed_history(app)
    client = signed_in_client(app)
    time_requests(client, "/", 3)
    timer = QueryTimer()
    with app.app_context():
        timer.attach(db.engine)
    report("GET / (full page)", time_requests(client, "/", args.requests))
    report("GET / (htmx body)", time_requests(client, "/", args.requests, {"HX-Request": "true"}))
    report("GET /?source=freshdesk&group=Group 3", time_requests(client, "/?source=freshdesk&group=Group%203",
                                                                  args.requests))
    report("GET /api/cockpit/data", time_requests(client, "/api/cockpit/data", args.requests))
    if args.verbose:
        for sql, median, worst, count in timer.ranking():
            print(f"  {median * 1000:7.1f} ms median {worst * 1000:7.1f} ms max x{count:<4} {sql[:150]}")
    statement, median, worst = timer.slowest()
    print(f"slowest query: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms: {statement[:160]}…")


def main() -> None:
    """Parse arguments, run the benchmark in a scratch database, drop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--verbose", action="store_true", help="list every SQL statement with its timings")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args()
    name, url = create_database()
    print(f"scratch database {name}")
    try:
        run(url, args)
    finally:
        if args.keep:
            print(f"kept {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    main()
