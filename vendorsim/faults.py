"""Injected failures: the next N matching requests fail in a chosen way."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

FAULTS = frozenset({"429", "500", "502", "503", "timeout", "reset", "truncated", "401", "403"})


@dataclass
class FaultRule:
    """One armed fault: fires on `count` matching requests after skipping `skip`."""

    fault: str
    count: int
    path_contains: str | None
    skip: int

    def matches(self, path: str) -> bool:
        """True when the request path (with query) matches this rule."""
        return self.path_contains is None or self.path_contains in path


class FaultBook:
    """The armed faults of one vendor server."""

    def __init__(self) -> None:
        """Start with no faults."""
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, fault: str, count: int = 1, path_contains: str | None = None, after: int = 0) -> None:
        """Arm a fault for the next count matching requests after skipping `after` of them."""
        fault = str(fault)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {sorted(FAULTS)}")
        if count < 1 or after < 0:
            raise ValueError("count must be >= 1 and after >= 0")
        with self._lock:
            self._rules.append(FaultRule(fault, int(count), path_contains, int(after)))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._rules.clear()

    def take(self, path: str) -> str | None:
        """Return the fault this request must suffer, if any, and use it up."""
        fired = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(path):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                elif fired is None:
                    fired = rule.fault
                    rule.count -= 1
            self._rules = [rule for rule in self._rules if rule.count > 0]
        return fired

    def pending(self) -> list[dict[str, Any]]:
        """Describe the armed faults."""
        with self._lock:
            return [vars(rule).copy() for rule in self._rules]


def reset_connection(environ: dict[str, Any]) -> None:
    """Make the server drop the connection with a TCP reset instead of answering."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("simulated connection reset")


def truncate(response: Response) -> Response:
    """Send only half the body while announcing the full length, then close."""
    body = response.get_data()
    cut = Response(body[: len(body) // 2], status=response.status_code, headers=response.headers)
    cut.headers["Content-Length"] = str(len(body))
    cut.headers["Connection"] = "close"
    return cut
