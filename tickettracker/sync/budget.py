"""The API budget meter: per vendor, the budget its responses advertised, this app's share of it
(SYNC_RATE_LIMIT_SHARE), the headroom left for the customer's other integrations, and what the last run used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickettracker.core.config import Settings
from tickettracker.core.vocabulary import SOURCE_LABELS
from tickettracker.sync.metrics import latest_by_source


@dataclass(frozen=True)
class VendorBudget:
    """One vendor's budget per window as last seen, and the last run's use of it."""

    source: str
    label: str
    total: int | None  # credits per window the vendor advertised (None: it advertised none)
    window_seconds: float
    share: float
    run_id: str | None
    recorded_at: datetime | None
    requests: int
    credits: int
    seconds: float
    remaining_min: int | None

    @property
    def ours(self) -> float | None:
        """Credits per window this app may use."""
        return None if self.total is None else self.total * self.share

    @property
    def headroom(self) -> float | None:
        """Credits per window left for the customer's other integrations."""
        return None if self.total is None else self.total - self.total * self.share

    @property
    def used_per_window(self) -> float | None:
        """The last run's average use, in credits per window."""
        if not self.seconds or not self.credits:
            return None
        return self.credits * self.window_seconds / self.seconds

    def percent(self, value: float | None) -> float:
        """A value as a percentage of the budget (0-100), for drawing."""
        if value is None or not self.total:
            return 0.0
        return round(max(0.0, min(100.0, 100.0 * value / self.total)), 1)

    def window_text(self) -> str:
        """The window as people say it: 'minute', '10 s', 'hour'."""
        seconds = int(self.window_seconds)
        return {60: "minute", 3600: "hour"}.get(seconds, f"{seconds} s")


def overview(settings: Settings) -> list[VendorBudget]:
    """The budget of every configured vendor (and any vendor a stored run saw), in a fixed order; the share is the
    current SYNC_RATE_LIMIT_SHARE (what the next sync uses)."""
    latest = latest_by_source()
    sources = [s for s in SOURCE_LABELS if s in latest or s in settings.vendors.configured_sources()]
    return [_budget(source, latest.get(source), settings) for source in sources]


def _budget(source: str, row: Any, settings: Settings) -> VendorBudget:
    """One vendor's budget from its newest stored figures (none yet: unknown)."""
    window = float(getattr(row, "budget_window_seconds", None) or settings.rate_limit_window_seconds)
    return VendorBudget(source=source, label=SOURCE_LABELS[source], total=getattr(row, "budget_total", None),
                        window_seconds=window, share=settings.rate_limit_share,
                        run_id=getattr(row, "run_id", None), recorded_at=getattr(row, "recorded_at", None),
                        requests=int(getattr(row, "requests", 0) or 0), credits=int(getattr(row, "credits", 0) or 0),
                        seconds=float(getattr(row, "seconds", 0) or 0),
                        remaining_min=getattr(row, "remaining_min", None))
