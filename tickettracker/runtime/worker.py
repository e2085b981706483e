"""The worker process: several RQ workers (so different sync types run at once), sharing one app."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import time

from flask import Flask

from tickettracker.runtime.startup import checked_app
from tickettracker.store.extensions import db, make_redis
from tickettracker.sync.jobs import AppWorker
from tickettracker.sync.queues import QUEUE_NAMES


def _work(app: Flask, index: int, burst: bool) -> None:
    """Run one RQ worker, performing every job in the app's context, until told to stop."""
    redis = make_redis(app.config["REDIS_URL"], socket_timeout=None)
    worker = AppWorker(list(QUEUE_NAMES), connection=redis, name=f"tickettracker-{os.getpid()}-{index}",
                       maintenance_interval=60, app=app)
    worker.work(burst=burst, logging_level="INFO")


def main(argv: list[str] | None = None) -> int:
    """Start the workers and forward stop signals to them."""
    parser = argparse.ArgumentParser(description="Run the Ticket Tracker sync workers.")
    parser.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "3")))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    app = checked_app()
    if app is None:
        return 2
    with app.app_context():
        db.engine.dispose()
    context = multiprocessing.get_context("fork")  # the workers inherit the app; nothing is pickled
    children = [context.Process(target=_work, args=(app, i, args.burst), daemon=False)
                for i in range(max(1, args.processes))]
    for child in children:
        child.start()
    return _supervise(children)


def _supervise(children: list[multiprocessing.process.BaseProcess]) -> int:
    """Wait for the workers; on SIGTERM/SIGINT stop them (a second signal aborts running jobs)."""
    signals_seen = 0

    def forward(signum: int, frame: object) -> None:
        nonlocal signals_seen
        signals_seen += 1
        for child in children:
            if child.is_alive() and child.pid:
                os.kill(child.pid, signal.SIGTERM)
                if signals_seen == 1:
                    time.sleep(0.05)
                    os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return 0 if all(child.exitcode == 0 for child in children) else 1
