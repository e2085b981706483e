"""The vendor simulator with rate limits: budgets that pace a sync, and the credits and floor of what it sent."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

VENDOR_NAMES = ("freshservice", "freshdesk", "jira")
# The list call each connector repeats (path and the include it sends): its credit cost sets the budget.
LIST_CALLS = {"freshservice": "/api/v2/tickets?include=requester,stats",
              "freshdesk": "/api/v2/tickets?include=description,requester,stats",
              "jira": "/rest/api/3/search/jql"}
LIST_PATHS = {"freshservice": "/api/v2/tickets", "freshdesk": "/api/v2/tickets", "jira": "/search/jql"}


@dataclass(frozen=True)
class Budget:
    """A rate limit shared by all vendors' windows: seconds per window, and the share a sync may use."""

    window: float
    share: float
    pace: float  # seconds between list calls at the paced rate

    def limit_for(self, list_cost: int) -> int:
        """Return the per-window credit limit at which the paced sync makes one list call every `pace` s."""
        return math.ceil(list_cost * self.window / (self.share * self.pace))


def start_simulator(sizes: dict[str, int], window: float, seed: int = 7) -> Any:
    """Generate and start the three vendor servers (no budget yet)."""
    from vendorsim import VendorSimulator

    return VendorSimulator(seed=seed, sizes=sizes, window_seconds=window).start()


def cost_of(vendor: Any, target: str) -> int:
    """Return the credits the vendor charges for a request to target (path and query)."""
    path, _, query = target.partition("?")
    return int(vendor.cost(Request(EnvironBuilder(path=path, query_string=query).get_environ()), None))


def apply_budget(sim: Any, budget: Budget) -> dict[str, int]:
    """Give every vendor the limit that paces list calls `budget.pace` apart; start fresh windows."""
    limits = {}
    for name in VENDOR_NAMES:
        vendor = sim.vendor(name)
        limits[name] = budget.limit_for(cost_of(vendor, LIST_CALLS[name]))
        vendor.set_rate_limit(limits[name], budget.window)
    return limits


def reset_counts(sim: Any) -> None:
    """Forget every vendor's request log."""
    for name in VENDOR_NAMES:
        sim.vendor(name).reset_counts()


@dataclass
class Traffic:
    """What a sync sent: requests, credits spent, 429s, and the rate-limit floor those credits imply."""

    requests: int = 0
    credits: int = 0
    throttled: int = 0
    floor: float = 0.0


def traffic(sim: Any, limits: dict[str, int], budget: Budget) -> Traffic:
    """Sum the vendors' logs; floor = credits ÷ (share × limit ÷ window) per vendor (syncs run one after another)."""
    total = Traffic()
    for name in VENDOR_NAMES:
        vendor = sim.vendor(name)
        log = list(vendor.requests)
        credits = sum(cost_of(vendor, target) for _, target, status in log if status not in (0, 429))
        total.requests += len(log)
        total.credits += credits
        total.throttled += sum(1 for _, _, status in log if status == 429)
        total.floor += credits / (budget.share * limits[name] / budget.window)
    return total
