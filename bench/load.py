"""Closed-loop load: N clients (threads) each repeating one HTTP request or one SQL statement for a while."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg

from .harness import BenchError
from .results import percentile


@dataclass
class Load:
    """What one load phase saw: every latency (seconds), how long it ran and what failed."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Return completed operations per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        """Return the median latency in seconds."""
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        """Return the 99th-percentile latency in seconds."""
        return percentile(self.latencies, 0.99)


class HttpClient:
    """One keep-alive HTTP/1.1 connection to the app, reopened when the server closes it."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        """Remember where the app listens."""
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and return (status, body); retry once on a connection the server closed."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
                continue
            self.set_cookies = response.msg.get_all("Set-Cookie") or []
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def get(self, path: str, headers: dict[str, str] | None = None) -> _Answer:
        """GET a path; the answer has status_code like a test-client response (for bench/cockpit.py)."""
        status, _ = self.request("GET", path, headers)
        return _Answer(status)

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class _Answer:
    """The part of a response bench/cockpit.py looks at."""

    status_code: int


def _client_loop(step: Callable[[Any], None], state: Any, deadline: list[float], barrier: threading.Barrier,
                 load: Load, lock: threading.Lock) -> None:
    """Wait for the start, then repeat the step until the deadline, recording latencies and the first errors."""
    barrier.wait()
    mine: list[float] = []
    while time.perf_counter() < deadline[0] and len(load.errors) < 5:
        started = time.perf_counter()
        try:
            step(state)
        except Exception as error:  # noqa: BLE001 - collected and raised by run_clients
            with lock:
                load.errors.append(f"{type(error).__name__}: {error}")
            break
        mine.append(time.perf_counter() - started)
    with lock:
        load.latencies.extend(mine)


def run_clients(clients: int, seconds: float, make: Callable[[], Any], step: Callable[[Any], None],
                close: Callable[[Any], None]) -> Load:
    """Run `clients` threads, each calling step(state) in a loop for `seconds`; time every call."""
    load, lock = Load(), threading.Lock()
    states = [make() for _ in range(clients)]
    barrier, deadline = threading.Barrier(clients + 1), [0.0]
    threads = [threading.Thread(target=_client_loop, args=(step, state, deadline, barrier, load, lock), daemon=True)
               for state in states]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - started
    for state in states:
        close(state)
    if load.errors:
        raise BenchError(f"{len(load.errors)} client(s) failed, first: {load.errors[0]}")
    return load


def http_load(base_url: str, path: str, clients: int, seconds: float, headers: dict[str, str] | None = None) -> Load:
    """GET path from `clients` concurrent keep-alive clients for `seconds`; any non-200 fails the phase."""
    def step(client: HttpClient) -> None:
        """Send one GET and insist on 200."""
        status, _ = client.request("GET", path, headers)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")

    return run_clients(clients, seconds, lambda: HttpClient(base_url), step, HttpClient.close)


def sql_load(conninfo: str, statement: str, params: Any, clients: int, seconds: float) -> Load:
    """Run one SQL statement (fetching every row) from `clients` psycopg connections for `seconds`."""
    def step(conn: psycopg.Connection) -> None:
        """Execute the statement and fetch its rows."""
        conn.execute(statement, params).fetchall()

    return run_clients(clients, seconds, lambda: psycopg.connect(conninfo, autocommit=True), step,
                       lambda conn: conn.close())
