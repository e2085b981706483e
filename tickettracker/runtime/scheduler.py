"""`python -m tickettracker.runtime.scheduler`: periodic syncs, schedule changes without restart, and run recovery."""

from __future__ import annotations

import argparse
import logging
import time

from flask import Flask
from redis.exceptions import RedisError

from tickettracker.cockpit.snapshots import take_snapshot
from tickettracker.runtime.startup import checked_app
from tickettracker.runtime.stopping import StopRequest
from tickettracker.store.extensions import db, redis_client
from tickettracker.sync import notifications
from tickettracker.sync.lifecycle import recover
from tickettracker.sync.schedule import ensure_schedule_rows, reconcile, scheduler_for, wanted_schedules

log = logging.getLogger("tickettracker.runtime.scheduler")


def tick(app: Flask) -> list[str]:
    """One pass: reconcile schedules, enqueue due triggers, recover lost runs. Return notes."""
    with app.app_context():
        try:
            redis = redis_client()
            scheduler = scheduler_for(redis)
            notes = [f"{k}: {v}" for k, v in reconcile(scheduler, wanted_schedules()).items() if v != "kept"]
            if scheduler.acquire_lock():
                try:
                    notes += [f"enqueued {job.id}" for job in scheduler.enqueue_jobs()]
                finally:
                    scheduler.remove_lock()
            notes += recover(redis, app.extensions["tt_settings"])
            opened = notifications.safely(notifications.check_stale, app.extensions["tt_settings"])
            notes += [f"stale-data incident {incident} opened or recovered" for incident in opened]
            notes += _daily_snapshot()
            return notes
        finally:
            db.session.remove()


def _daily_snapshot() -> list[str]:
    """Take today's KPI snapshot once (take_snapshot is idempotent per day)."""
    take_snapshot("daily")
    return []


def main(argv: list[str] | None = None) -> int:
    """Run the scheduler loop until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description="Run the Ticket Tracker scheduler.")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    parser.add_argument("--once", action="store_true", help="run one pass and exit")
    args = parser.parse_args(argv)
    app = checked_app()
    if app is None:
        return 2
    with app.app_context():
        ensure_schedule_rows(app.extensions["tt_settings"])
    stop = StopRequest()
    while not stop.requested:
        try:
            for note in tick(app):
                log.info("%s", note)
        except RedisError as exc:
            log.warning("Redis is not reachable (%s); will try again", exc)
        except Exception:  # noqa: BLE001 - the loop must survive one bad pass
            log.exception("scheduler pass failed")
        if args.once:
            break
        deadline = time.monotonic() + args.interval
        while not stop.requested and time.monotonic() < deadline:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
