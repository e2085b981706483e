"""Injected failures: the next N matching requests fail in a chosen way."""

from __future__ import annotations

import random
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

FAULTS = frozenset({"429", "500", "502", "503", "timeout", "reset", "truncated", "401", "403"})
ANY_AUX = "aux"  # every auxiliary kind: a fault with aux="aux" hits whichever auxiliary call comes next


@dataclass
class FaultRule:
    """One armed fault: fires on `count` matching requests after skipping `skip`.

    A rule matches by a substring of the path with its query, and/or by the kind of auxiliary call the vendor
    says the request is (e.g. "directory", "workspaces", "census", "projects", "remotelinks"; "aux" = any of them).
    """

    fault: str
    count: int
    path_contains: str | None
    skip: int
    aux: str | None = None

    def matches(self, path: str, aux_kinds: frozenset[str] = frozenset()) -> bool:
        """True when the request path (with query) and its auxiliary kinds match this rule."""
        return ((self.path_contains is None or self.path_contains in path)
                and (self.aux is None or self.aux in aux_kinds))


class FaultBook:
    """The armed faults of one vendor server."""

    def __init__(self) -> None:
        """Start with no faults."""
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._aux_rate = 0.0
        self._aux_rng: random.Random | None = None
        self.aux_kinds: frozenset[str] = frozenset()  # the auxiliary kinds this vendor knows (set by the app)

    def add(self, fault: str, count: int = 1, path_contains: str | None = None, after: int = 0,
            aux: str | None = None) -> None:
        """Arm a fault for the next count matching requests after skipping `after` of them."""
        fault = str(fault)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; use one of {sorted(FAULTS)}")
        if count < 1 or after < 0:
            raise ValueError("count must be >= 1 and after >= 0")
        if aux is not None and aux not in self.aux_kinds | {ANY_AUX}:
            raise ValueError(f"unknown auxiliary call {aux!r}; use one of {sorted(self.aux_kinds | {ANY_AUX})}")
        with self._lock:
            self._rules.append(FaultRule(fault, int(count), path_contains, int(after), aux))

    def random_aux(self, rate: float, seed: int | None = None) -> None:
        """Fail this share of auxiliary calls with a 503 (seeded; rate 0 stops it)."""
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self._aux_rate = float(rate)
            self._aux_rng = random.Random(seed) if rate > 0 else None

    @property
    def aux_rate(self) -> float:
        """The share of auxiliary calls failed at random."""
        return self._aux_rate

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._rules.clear()

    def take(self, path: str, aux_kinds: frozenset[str] = frozenset()) -> str | None:
        """Return the fault this request must suffer, if any, and use it up."""
        fired = None
        kinds = aux_kinds | {ANY_AUX} if aux_kinds else aux_kinds
        with self._lock:
            for rule in self._rules:
                if not rule.matches(path, kinds):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                elif fired is None:
                    fired = rule.fault
                    rule.count -= 1
            self._rules = [rule for rule in self._rules if rule.count > 0]
            if fired is None and aux_kinds and self._aux_rng is not None and self._aux_rng.random() < self._aux_rate:
                fired = "503"
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
