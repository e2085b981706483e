"""`python app.py`: start embedded services if needed, migrate, then run the Procfile until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from pathlib import Path

from flask_migrate import upgrade

from tickettracker.core.config import ConfigError, is_loopback, load_settings, mask_url
from tickettracker.runtime.bootstrap import prepare_instance
from tickettracker.runtime.embedded import start_postgres, start_redis
from tickettracker.runtime.limits import OPEN_FILES, raise_open_files
from tickettracker.runtime.procfile import ProcessGroup, read_procfile
from tickettracker.runtime.services import build_app
from tickettracker.runtime.stopping import StopRequest
from tickettracker.store.health import ServiceUnavailable, check_services
from vendorsim import VendorSimulator

ROOT = Path(__file__).resolve().parents[2]


def _say(message: str) -> None:
    print(f"ticket-tracker | {message}", flush=True)


def _prepare_environment(args: argparse.Namespace) -> tuple[dict[str, str], list[object]]:
    """Return the child environment (embedded services and demo simulator filled in) and what to stop later."""
    env = dict(os.environ)
    env.setdefault("PORT", str(args.port))
    env.setdefault("HOST", args.host)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    settings = load_settings()
    owned: list[object] = []
    if settings.database_url is None:
        env["DATABASE_URL"] = start_postgres(settings.instance_path)
        _say(f"embedded PostgreSQL running (data in {settings.instance_path / 'pg'})")
    if settings.redis_url is None:
        server = start_redis(settings.instance_path)
        owned.append(server)
        env["REDIS_URL"] = server.url
        _say(f"embedded Valkey running at {server.url} (data in {settings.instance_path / 'valkey'})")
    if not settings.vendors.configured_sources() and not args.no_demo:
        simulator = VendorSimulator(seed=1).start()
        owned.append(simulator)
        env.update(simulator.settings_env())
        env["DEMO_MODE"] = "true"
        _say("no vendor credentials configured: DEMO MODE against the built-in vendor simulator")
    if env.get("DEMO_MODE") == "true" and is_loopback(env["HOST"]):
        env.setdefault("SESSION_COOKIE_SECURE", "false")  # the demo's plain http://127.0.0.1 address
    return env, owned


def _migrate(env: dict[str, str]) -> None:
    """Check the services answer and apply the migrations."""
    app = build_app({key: env[key] for key in ("DATABASE_URL", "REDIS_URL") if key in env}
                    | ({"DEMO_MODE": env["DEMO_MODE"]} if "DEMO_MODE" in env else {}))
    check_services(app)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        for line in prepare_instance(app):
            _say(line)


def _wait_ready(url: str, group: ProcessGroup, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        group.pump(0.2)
        if group.exited():
            return False
        try:
            with urllib.request.urlopen(url + "health", timeout=1) as response:  # noqa: S310 - our own URL  # nosec B310
                if response.status == 200:
                    return True
        except OSError:
            continue
    return False


def _stop_owned(owned: list[object]) -> None:
    for thing in reversed(owned):
        thing.stop()


def main(argv: list[str] | None = None) -> int:
    """Run web, worker and scheduler from the Procfile on the embedded defaults."""
    parser = argparse.ArgumentParser(description="Run Ticket Tracker (web, worker, scheduler).")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--no-demo", action="store_true", help="never start the vendor simulator")
    args = parser.parse_args(argv)
    try:
        env, owned = _prepare_environment(args)
        _migrate(env)
    except (ConfigError, ServiceUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    open_files = raise_open_files()
    if open_files < OPEN_FILES:
        _say(f"note: the open-file limit is {open_files}, so a web process holds fewer event streams than "
             f"{OPEN_FILES - 1024}; see README 'Running in production'")
    group = ProcessGroup(read_procfile(ROOT / "Procfile"), env, ROOT)
    stop = StopRequest()
    group.start()
    url = f"http://{env['HOST']}:{env['PORT']}/"
    if _wait_ready(url, group):
        _say(f"ready: open {url}  (database {mask_url(env.get('DATABASE_URL'))}; Ctrl-C stops everything)")
    code = 0
    while not stop.requested:
        group.pump(0.5)
        name = group.exited()
        if name:
            _say(f"process '{name}' exited; stopping the others")
            code = 1
            break
    _say("stopping…")
    group.stop()
    _stop_owned(owned)
    _say("stopped")
    return code
