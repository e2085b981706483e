"""What every benchmark needs: a scratch database and Redis db, the app, child processes and the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from livestack.processes import Processes, wait_until  # noqa: E402 - after the repository joins sys.path

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
CLAIM_KEY = "tickettracker-test-db:{}"


class BenchError(RuntimeError):
    """Something the benchmark measures broke (an HTTP error, a failed sync); the run must exit non-zero."""


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """Create a database named tt_bench_<hex>, yield its psycopg URL, drop it afterwards even on failure."""
    name = f"tt_bench_{secrets.token_hex(5)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_redis() -> Iterator[str]:
    """Claim a free Redis database number (1-15) the way the tests do; flush it before and after."""
    admin, token = Redis.from_url(f"{REDIS_BASE}/0"), secrets.token_hex(8)
    number = next((n for n in range(1, 16) if admin.set(CLAIM_KEY.format(n), token, nx=True, ex=3600)), None)
    if number is None:
        raise BenchError("no free Redis database number (1-15)")
    url = f"{REDIS_BASE}/{number}"
    Redis.from_url(url).flushdb()
    try:
        yield url
    finally:
        Redis.from_url(url).flushdb()
        admin.delete(CLAIM_KEY.format(number))


def base_env(database_url: str, redis_url: str, instance: Path) -> dict[str, str]:
    """Return the settings shared by the in-process app, the web server and the workers."""
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-" + "k" * 32,
            "INSTANCE_PATH": str(instance), "SESSION_COOKIE_SECURE": "false", "LOG_LEVEL": "warning",
            "DEMO_MODE": "false", "SYNC_INTERVAL_INCIDENTS_MINUTES": "0", "SYNC_INTERVAL_JIRA_MINUTES": "0",
            "FRESHSERVICE_DOMAIN": "", "FRESHDESK_DOMAIN": "",
            # measurement 7 holds every stream as one benchmark user in one session, up to the process's cap
            "STREAMS_PER_USER": "100000", "STREAMS_PER_SESSION": "100000"}


def make_app(env: dict[str, str]) -> Any:
    """Build the application in this process from the bench settings (logging set up as in the app's processes)."""
    from tickettracker.runtime.services import build_app

    return build_app(env)


def migrate(app: Any) -> None:
    """Apply every migration to the app's database, then close its connections."""
    from flask_migrate import upgrade

    from tickettracker.store.extensions import db

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


@contextlib.contextmanager
def processes(env: dict[str, str], log_dir: Path) -> Iterator[Processes]:
    """Yield the live stack's Processes (web under gunicorn, workers); stop every child afterwards."""
    procs = Processes(dict(env), log_dir)
    try:
        yield procs
    finally:
        procs.stop_all()


def machine() -> str:
    """Describe the machine: CPU model, cores, RAM, OS, Python and PostgreSQL versions."""
    model = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    mem_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                    if line.startswith("MemTotal:")), 0)
    with psycopg.connect(ADMIN_URL) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (f"{model}, {os.cpu_count()} cores, {mem_kib / 1024 / 1024:.1f} GiB RAM; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}; PostgreSQL {pg}; {_load()}")


def _read(path: str) -> str:
    """Return a file's text, or '' when it cannot be read."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _load() -> str:
    """Return the load average at the start, to show how busy the shared machine was."""
    with contextlib.suppress(OSError):
        one, five, _ = os.getloadavg()
        return f"load average {one:.2f}/{five:.2f} at start"
    return "load average unknown"


def git_revision() -> str:
    """Return the short commit of the tree (marked dirty when it has changes)."""
    def git(*args: str) -> str:
        """Run git in the repository and return its output."""
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain") else "")


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll check() until it returns something truthy (livestack's wait_until); raise BenchError on timeout."""
    try:
        return wait_until(check, timeout=timeout, interval=interval, what=what)
    except AssertionError as exc:
        raise BenchError(str(exc)) from None
