"""Everything the measurements run against: scratch database and Redis, simulators, the app, gunicorn."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dataset import seed
from .harness import base_env, make_app, processes, scratch_database, scratch_redis
from .plan import Plan
from .signin import admin_tokens, create_user, session_cookie
from .vendors import start_simulator


@dataclass
class Stack:
    """The running pieces one benchmark run shares between its measurements."""

    plan: Plan
    conninfo: str
    redis_url: str
    app: Any
    procs: Any
    web_url: str
    sync_sim: Any
    live_sim: Any
    cookie: str
    tokens: list[str]
    synced: bool = False

    @property
    def web(self) -> Any:
        """Return the gunicorn master process (bench/sse.py finds its worker from it)."""
        return self.procs.children["web"]

    @property
    def connections(self) -> int:
        """Return the gevent pool size of a web process (WEB_WORKER_CONNECTIONS, as gunicorn.conf.py reads it)."""
        return int(self.procs.env.get("WEB_WORKER_CONNECTIONS") or 12000)


def say(message: str) -> None:
    """Print a progress line to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def simulators(plan: Plan) -> Iterator[tuple[Any, Any]]:
    """Start the simulator the in-process syncs use and the one the worker's long sync uses; stop both."""
    sync_sim = start_simulator(plan.sync_sizes, plan.budget.window, seed=7)
    try:
        live_sim = start_simulator(plan.live_sizes, plan.budget.window, seed=11)
        try:
            yield sync_sim, live_sim
        finally:
            live_sim.stop()
    finally:
        sync_sim.stop()


@contextlib.contextmanager
def open_stack(plan: Plan, work: Path) -> Iterator[Stack]:
    """Create, seed and start everything; on the way out stop the children, drop the database, flush Redis."""
    with scratch_database() as conninfo, scratch_redis() as redis_url, simulators(plan) as (sync_sim, live_sim):
        say(f"scratch database {conninfo.rsplit('/', 1)[1]}, Redis {redis_url}, logs in {work}")
        env = {**base_env(conninfo, redis_url, work / "instance"), **plan.env()}
        app = make_app({**env, **sync_sim.settings_env()})
        seconds = seed(app, conninfo, plan.tickets, plan.issues, plan.history_days)
        say(f"seeded {plan.tickets:,} Freshworks tickets and {plan.issues:,} Jira issues with SQL in {seconds:.0f} s")
        web_env = {**env, **live_sim.settings_env(), "WEB_WORKER_CONNECTIONS": os.environ.get(
            "WEB_WORKER_CONNECTIONS", "12000")}
        try:
            with processes(web_env, work) as procs:
                url = procs.start_web(gunicorn=True)
                say(f"gunicorn (gunicorn.conf.py, gevent, 1 worker process) at {url}")
                cookie = session_cookie(url, "bench-viewer", create_user(app, "bench-viewer", "viewer"))
                tokens = admin_tokens(app, plan.rounds * plan.trigger_posts)
                yield Stack(plan, conninfo, redis_url, app, procs, url, sync_sim, live_sim, cookie, tokens)
        finally:
            _dispose(app)


def _dispose(app: Any) -> None:
    """Close the in-process app's database connections."""
    from tickettracker.store.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
