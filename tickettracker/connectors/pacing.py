"""Client-side pacing from the vendors' rate-limit headers, so a sync leaves the rest of the budget to others."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Mapping

from tickettracker.connectors.meter import int_header

HOLD_START = 1.0
HOLD_CAP = 60.0


def seconds_until(reset: str | None, now: datetime | None = None) -> float | None:
    """Seconds until an X-RateLimit-Reset instant (ISO 8601, e.g. 2026-01-01T10:00Z); None if unknown/past."""
    if not reset:
        return None
    try:
        moment = datetime.fromisoformat(reset.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    left = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    return left if left > 0 else None


def reserve(total: int, share: float) -> int:
    """The whole credits of a window kept for other integrations: (1 - share) of it, rounded down."""
    return math.floor((1 - share) * total + 1e-9)  # 1e-9: (1 - 0.9) * 10 is 0.999... in floating point


class Pacer:
    """Decides how long to wait before the next request.

    Two rules, both from response headers (Total or Limit, Remaining, Used-CurrentRequest, Interval-Seconds,
    Reset):
    * spacing: requests are spaced so this sync spends at most `share` of the credits per window; the window is
      X-RateLimit-Interval-Seconds when sent (Jira Data Center), else RATE_LIMIT_WINDOW_SECONDS (default 60:
      Freshworks budgets are per minute; Jira Cloud publishes none, so a minute is the cautious guess);
    * reserve: when Remaining would drop below the (1 - share) part kept for other integrations (others are
      busy too), hold until the advertised reset; without one, the next spaced request probes first, then
      probes follow after 1, 2, 4 ... s. A sync alone reaches the reserve at the end of each window (it spends its
      share there) and its next spaced request usually falls into a new window, so the first probe costs no time;
      when others are busy it costs the same one credit of the reserve as a probe after a hold. The reserve is
      counted in whole credits, rounded down (others can only spend whole ones): at 25 a window and share 0.5 a
      sync alone spends 12 or 13 in a window as its spacing falls, 12.5 on average.
    """

    def __init__(self, share: float, window_hint: float | None) -> None:
        """share: fraction of the budget this sync may use; window_hint: window length when the vendor documents it."""
        self.share, self.window_hint = share, window_hint
        self.interval = 0.0
        self.hold_until = 0.0
        self.last_sent = 0.0
        self.next_hold = HOLD_START
        self.probing = False  # the reserve was reached and the next spaced request is the probe
        self.total: int | None = None  # the vendor's budget per window, as its last response said

    def observe(self, headers: Mapping[str, str]) -> None:
        """Update the plan from one response's headers."""
        total = int_header(headers, "X-RateLimit-Total", "X-RateLimit-Limit")
        self.total = total or self.total
        if not total:
            self.interval = 0.0
            return
        cost = max(1, int_header(headers, "X-RateLimit-Used-CurrentRequest") or 1)
        window = int_header(headers, "X-RateLimit-Interval-Seconds") or self.window_hint
        self.interval = window * cost / max(1.0, self.share * total) if window else 0.0
        remaining = int_header(headers, "X-RateLimit-Remaining")
        if remaining is None or remaining - cost >= reserve(total, self.share):
            self.next_hold, self.probing, self.hold_until = HOLD_START, False, 0.0
            return
        until_reset = seconds_until(headers.get("X-RateLimit-Reset"))
        if until_reset is None and self.interval and not self.probing:
            self.probing = True
            return
        hold = until_reset or self.next_hold
        self.next_hold = min(HOLD_CAP, self.next_hold * 2)
        self.hold_until = time.monotonic() + min(hold, HOLD_CAP)

    def delay(self) -> float:
        """Seconds to wait before sending now."""
        now = time.monotonic()
        return max(0.0, self.last_sent + self.interval - now, self.hold_until - now)

    def holding(self) -> bool:
        """Whether the next wait keeps the reserve for other integrations (rather than spacing requests)."""
        return self.hold_until > time.monotonic()

    def sent(self) -> None:
        """Note that a request is being sent now."""
        self.last_sent = time.monotonic()
