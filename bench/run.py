"""Run every benchmark and print one table: python -m bench [--small] (or python bench/run.py).

Seeds a scratch database (tt_bench_*) with SQL, starts the app under the production gunicorn config, RQ workers and
the vendor simulator with rate limits, measures pages, triggers, bulk upserts, syncs and event streams, prints the
figure, the goal and the ratio of each, and exits non-zero when something it measures breaks. A missed goal is a ✗
in the table, not a failure. The database is dropped, the Redis db flushed and every child stopped at the end.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import atrisk, audit, changes, pages, streams, syncs, trigger, upsert  # noqa: E402
from bench.harness import git_revision, machine  # noqa: E402
from bench.plan import Plan, choose  # noqa: E402
from bench.results import Row, error_row, table  # noqa: E402
from bench.stack import Stack, open_stack, say  # noqa: E402

Step = Callable[[Stack], list[Row]]


def _full(stack: Stack) -> list[Row]:
    """Measurement 5; it leaves the cache equal to the vendors for 8 and 6."""
    rows = syncs.measure_full(stack.app, stack.conninfo, stack.sync_sim, stack.plan.budget, stack.plan.rounds)
    stack.synced = True
    return rows


def _synced(stack: Stack) -> None:
    """Make the cache equal to the vendors (when 5 did not run) so 8 and 6 start from a finished full sync."""
    if not stack.synced:
        syncs.empty_cache(stack.conninfo)
        syncs.sync_all(stack.app, full=True)
        stack.synced = True


def _noop(stack: Stack) -> list[Row]:
    """Measurement 8."""
    _synced(stack)
    return syncs.measure_noop(stack.app, stack.conninfo, stack.sync_sim, stack.plan.fast_budget, stack.plan.rounds)


def _incremental(stack: Stack) -> list[Row]:
    """Measurement 6."""
    _synced(stack)
    return syncs.measure_incremental(stack.app, stack.sync_sim, stack.plan.fast_budget, stack.plan.rounds)


# In run order: the read-side measurements first, since 5 replaces the seeded cache with synced items.
STEPS: list[tuple[str, str, Step]] = [
    ("1", "incident tracker page and partial vs bare SQL",
     lambda s: pages.measure_tracker(s.web_url, s.conninfo, s.app, s.plan.pages, s.cookie, s.redis_url)),
    ("2", "dashboard", lambda s: pages.measure_dashboard_load(s.web_url, s.plan.pages, s.cookie, s.redis_url)
     + pages.measure_dashboard(s.web_url, s.plan.pages, s.cookie)),
    ("7", "SSE streams", lambda s: streams.measure_streams(s.app, s.web_url, s.redis_url, s.web, s.connections,
                                                         s.plan.sse_events, s.plan.sse_pages, s.plan.sse_fill)),
    ("4", "bulk upsert vs COPY", lambda s: upsert.measure_upsert(s.app, s.conninfo, s.sync_sim, s.plan.upsert_rows,
                                                                 100, s.plan.rounds)),
    ("11", "change classification per page", lambda s: changes.measure_changes(s.app, s.conninfo, s.sync_sim,
                                                                             s.plan.upsert_rows, 100, s.plan.rounds)),
    ("3", "trigger during a sync", lambda s: trigger.measure_trigger(s.procs, s.web_url, s.live_sim,
                                                                    s.plan.trigger_budget, s.plan.trigger_posts,
                                                                    s.plan.rounds, s.tokens)),
    ("5", "full sync vs rate-limit floor", _full),
    ("8", "no-op re-sync", _noop),
    ("6", "incremental sync", _incremental),
    ("9", "at-risk refresh calls", lambda s: atrisk.measure_atrisk()),
    ("10", "completeness audit", lambda s: audit.measure_audit(s.plan.tickets, s.plan.issues)),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick run: 20,000 tickets + 5,000 issues, short phases")
    parser.add_argument("--tickets", type=int, help="Freshworks tickets to seed (default 200,000; small 20,000)")
    parser.add_argument("--issues", type=int, help="Jira issues to seed (default 50,000; small 5,000)")
    parser.add_argument("--only", help="comma-separated measurement numbers to run, e.g. 1,2 (default: all)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the child processes' logs")
    return parser.parse_args(argv)


def run_steps(stack: Stack, only: set[str] | None) -> tuple[list[Row], bool]:
    """Run the selected measurements in order; a measurement that raises becomes an ERROR row."""
    rows, broken = [], False
    for key, title, step in STEPS:
        if only and key not in only:
            continue
        started = time.perf_counter()
        say(f"[{key}] {title} ...")
        try:
            found = step(stack)
        except Exception as error:  # noqa: BLE001 - reported in the table, and the exit status says so
            found, broken = [error_row(key, title, error)], True
        rows.extend(found)
        say(f"[{key}] done in {time.perf_counter() - started:.0f} s")
    return rows, broken


def measure(plan: Plan, only: set[str] | None, work: Path) -> tuple[list[Row], bool]:
    """Open the stack, run the measurements, and report a set-up failure as an ERROR row."""
    try:
        with open_stack(plan, work) as stack:
            return run_steps(stack, only)
    except Exception as error:  # noqa: BLE001 - set-up or tear-down failed: report it and exit non-zero
        return [error_row("-", "set-up / tear-down", error)], True


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the command, the machine and the table; 1 when something broke."""
    args = parse_args(argv)
    plan = choose(args.small, args.tickets, args.issues)
    only = {key.strip() for key in args.only.split(",")} if args.only else None
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="tt-bench-"))
    command = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
    header = f"command: {command}\nmachine: {machine()}\nrevision: {git_revision()}\n"
    say(f"{command}: {plan.name} run")
    rows, broken = measure(plan, only, work)
    minutes = (time.perf_counter() - started) / 60
    print(header)
    print(table(sorted(rows, key=lambda row: (not row.key[:1].isdigit(), row.key))))
    print(f"\n{plan.name} run: {minutes:.1f} min; ✗ = goal missed; figures are medians over the runs named")
    if broken or args.keep_logs:
        say(f"child process logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
