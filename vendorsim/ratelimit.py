"""Fixed-window request budgets with the vendors' rate-limit headers."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

UNLIMITED = 1_000_000


@dataclass(frozen=True)
class Verdict:
    """The outcome of spending credits: allowed or not, and the numbers for headers."""

    allowed: bool
    total: int
    remaining: int
    used: int
    retry_after: int
    reset_epoch: float
    window_seconds: float


class RateLimiter:
    """A per-window credit budget; None means unlimited (headers still sent)."""

    def __init__(self, per_window: int | None, window_seconds: float = 60.0) -> None:
        """Start with an empty window."""
        self._lock = threading.Lock()
        self.per_window = per_window
        self.window_seconds = float(window_seconds)
        self._start = time.monotonic()
        self._spent = 0

    def configure(self, per_window: int | None, window_seconds: float | None = None) -> None:
        """Change the budget and start a fresh window."""
        with self._lock:
            self.per_window = per_window
            if window_seconds is not None:
                self.window_seconds = float(window_seconds)
            self._start = time.monotonic()
            self._spent = 0

    @property
    def limited(self) -> bool:
        """True when a finite budget is set."""
        return self.per_window is not None

    def consume(self, cost: int = 1) -> Verdict:
        """Spend cost credits if the window allows; refused requests spend nothing."""
        with self._lock:
            now = time.monotonic()
            if now - self._start >= self.window_seconds:
                self._start, self._spent = now, 0
            total = UNLIMITED if self.per_window is None else self.per_window
            allowed = self._spent + cost <= total
            if allowed:
                self._spent += cost
            left = self._start + self.window_seconds - now
            return Verdict(allowed, total, max(0, total - self._spent), cost if allowed else 0,
                           max(1, math.ceil(left)), time.time() + left, self.window_seconds)

    def peek(self) -> dict[str, float | int | None]:
        """Report the budget state for the control endpoints."""
        with self._lock:
            return {"per_window": self.per_window, "window_seconds": self.window_seconds, "spent": self._spent}
