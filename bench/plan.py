"""How big and how long: the full run (README figures) and the quick --small run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .pages import PagePlan
from .vendors import Budget

WINDOW = 5.0  # the simulator's rate-limit window, shortened from a minute; RATE_LIMIT_WINDOW_SECONDS matches
SHARE = 0.5  # SYNC_RATE_LIMIT_SHARE (the default)


@dataclass(frozen=True)
class Plan:
    """Every size, duration and repeat count of one benchmark run."""

    name: str
    tickets: int
    issues: int
    history_days: int
    pages: PagePlan
    rounds: int
    upsert_rows: int
    trigger_posts: int
    sse_events: int
    sse_pages: int
    sse_fill: bool
    sync_sizes: dict[str, int] = field(default_factory=dict)
    live_sizes: dict[str, int] = field(default_factory=dict)
    budget: Budget = Budget(WINDOW, SHARE, pace=0.4)
    trigger_budget: Budget = Budget(WINDOW, SHARE, pace=1.0)
    fast_budget: Budget = Budget(WINDOW, SHARE, pace=0.05)  # for 8 and 6, whose figures are counts, not times

    def env(self) -> dict[str, str]:
        """Return the rate-limit settings the app, web and workers must share with the simulator."""
        return {"RATE_LIMIT_WINDOW_SECONDS": f"{self.budget.window:g}",
                "SYNC_RATE_LIMIT_SHARE": f"{self.budget.share:g}"}


LIVE_SIZES = {"freshservice": 6000, "freshdesk": 5000, "jira": 100}  # the long sync of measurement 3: ≥ 10,000

# sse_pages: page requests per latency sample of measurement 7; a nearest-rank p99 of 50 samples is their maximum,
# of 200 the third largest.
FULL = Plan("full", tickets=200_000, issues=50_000, history_days=30, pages=PagePlan(8.0, 3, 40), rounds=3,
            upsert_rows=10_000, trigger_posts=300, sse_events=20, sse_pages=200, sse_fill=True,
            sync_sizes={"freshservice": 2000, "freshdesk": 2000, "jira": 1000}, live_sizes=LIVE_SIZES)

SMALL = Plan("small", tickets=20_000, issues=5_000, history_days=7, pages=PagePlan(2.0, 3, 15), rounds=3,
             upsert_rows=2_000, trigger_posts=40, sse_events=10, sse_pages=15, sse_fill=False,
             sync_sizes={"freshservice": 500, "freshdesk": 500, "jira": 200}, live_sizes=LIVE_SIZES)


def choose(small: bool, tickets: int | None, issues: int | None) -> Plan:
    """Return the plan for the command line: full or small, with optional dataset sizes."""
    plan = SMALL if small else FULL
    return replace(plan, tickets=tickets if tickets is not None else plan.tickets,
                   issues=issues if issues is not None else plan.issues)
