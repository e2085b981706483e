"""The pre-flight estimate of a full resync: calls, credits and minutes, from the cache's counts, the page size, the
include costs and the configured budget share ("about 420 calls, 2,100 credits, 14 min at 50% of the budget").

Calls per source: the list pages of every pass (Freshworks: open, deleted and spam, per Freshservice workspace; Jira:
the search, the id-only census and the remote links of changed issues) plus the fixed reads of a run (status names,
agents, groups, workspaces; Jira's login check and field list). Minutes: the credits spread over this app's share of
the budget the vendor last advertised, else at the last run's pace, else unknown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import ceil
from typing import Any

from sqlalchemy import func, select

from tickettracker.core.config import Settings
from tickettracker.core.vendor_costs import CENSUS_PAGE, CREDITS_PER_CALL, list_call_credits
from tickettracker.core.vocabulary import HELPDESKS, SOURCE_LABELS, SYNC_TYPES
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket
from tickettracker.sync.metrics import latest_by_source

FIXED_CALLS = {"freshservice": 3, "freshdesk": 3, "jira": 2}  # status names, agents, groups | myself, field list
PASSES = ("live", "deleted", "spam")
# The completeness audit after the sync (sync/audit.py) when nothing differs: a Freshworks source compares its
# creation-day counts in about two search calls; Jira asks one approximate count per project.
FRESHWORKS_AUDIT_CALLS = 2


@dataclass(frozen=True)
class SourceEstimate:
    """One source's share of the estimate."""

    source: str
    label: str
    items: int
    calls: int
    credits: int
    minutes: float | None
    basis: str  # how the minutes were worked out


@dataclass(frozen=True)
class Estimate:
    """A full resync's estimate for a sync type."""

    sync_type: str
    share: float
    sources: list[SourceEstimate]

    @property
    def calls(self) -> int:
        """Calls in all."""
        return sum(s.calls for s in self.sources)

    @property
    def credits(self) -> int:
        """Credits in all."""
        return sum(s.credits for s in self.sources)

    @property
    def minutes(self) -> float | None:
        """Minutes in all (the sources run one after the other); None when a source's pace is unknown."""
        parts = [s.minutes for s in self.sources]
        return None if not parts or any(m is None for m in parts) else sum(parts)

    def text(self) -> str:
        """The estimate in one line."""
        minutes, share = self.minutes, f"{self.share:.0%} of the budget"
        if minutes is None:
            return (f"about {self.calls:,} calls, {self.credits:,} credits; time unknown until a sync has seen the "
                    f"budget (syncs use {share})")
        return f"about {self.calls:,} calls, {self.credits:,} credits, {minutes_text(minutes)} at {share}"

    def as_json(self) -> dict[str, Any]:
        """What the run stores and the run page shows beside the actual figures."""
        return {"calls": self.calls, "credits": self.credits, "minutes": self.minutes, "share": self.share,
                "text": self.text(), "sources": [asdict(s) for s in self.sources]}


def minutes_text(minutes: float) -> str:
    """'under a minute', '14 min', '2 h 5 min'."""
    if minutes < 1:
        return "under a minute"
    whole = round(minutes)
    return f"{whole} min" if whole < 60 else f"{whole // 60} h {whole % 60} min"


def cache_counts() -> dict[str, dict[str, int]]:
    """Per source, the cached rows of its current account: live, deleted and spam."""
    current = Ticket.hidden_reason.is_distinct_from("other_account")
    stmt = (select(Ticket.source,
                   func.count().filter(~Ticket.is_deleted, ~Ticket.is_spam, Ticket.hidden_reason.is_(None)),
                   func.count().filter(Ticket.is_deleted, ~Ticket.is_spam),
                   func.count().filter(Ticket.is_spam))
            .where(current).group_by(Ticket.source))
    counts = {source: dict(zip(PASSES, values, strict=True)) for source, *values in db.session.execute(stmt)}
    db.session.commit()
    return counts


def estimate_full(settings: Settings, sync_type: str) -> Estimate:
    """Estimate a full resync of a sync type from the cache as it is now."""
    counts, latest = cache_counts(), latest_by_source()
    configured = settings.vendors.configured_sources()
    sources = [source for source in SYNC_TYPES[sync_type] if source in configured]
    helpdesks = any(source in configured for source in HELPDESKS)
    parts = []
    for source in sources:
        seen = counts.get(source, dict.fromkeys(PASSES, 0))
        calls, credits = (_jira_calls(settings, seen["live"], helpdesks) if source == "jira"
                          else _freshworks_calls(settings, source, seen))
        minutes, basis = _minutes(settings, credits, calls, latest.get(source))
        parts.append(SourceEstimate(source, SOURCE_LABELS[source], sum(seen.values()), calls, credits, minutes, basis))
    return Estimate(sync_type, settings.rate_limit_share, parts)


def _pages(items: int, page_size: int, lists: int = 1) -> int:
    """List calls to read items in pages, over `lists` separate lists (each ends with a page of its own)."""
    return max(lists, ceil(items / page_size) + lists - 1) if items else lists


def _freshworks_calls(settings: Settings, source: str, seen: dict[str, int]) -> tuple[int, int]:
    """(calls, credits) of a Freshworks full resync: three passes (per Freshservice workspace) and the fixed reads."""
    workspaces = len(settings.vendors.freshservice_workspaces) if source == "freshservice" else 1
    fixed = FIXED_CALLS[source] + (1 if source == "freshservice" and not workspaces else 0)
    fixed += FRESHWORKS_AUDIT_CALLS if settings.audit_rate_share > 0 else 0
    lists = sum(_pages(seen[name], settings.sync_page_size, max(1, workspaces)) for name in PASSES)
    return lists + fixed, lists * list_call_credits(source) + fixed * CREDITS_PER_CALL


def _jira_calls(settings: Settings, items: int, helpdesks: bool) -> tuple[int, int]:
    """(calls, credits) of a Jira full resync: the search, the census, remote links of changed issues, fixed reads."""
    census = _pages(items, CENSUS_PAGE[settings.vendors.jira_flavour])
    links = min(items, settings.jira_remote_links_per_run) if helpdesks else 0
    audit = max(1, len(settings.vendors.jira_projects)) if settings.audit_rate_share > 0 else 0
    calls = _pages(items, settings.sync_page_size) + census + links + audit + FIXED_CALLS["jira"]
    return calls, calls * CREDITS_PER_CALL


def _minutes(settings: Settings, credits: int, calls: int, last: Any) -> tuple[float | None, str]:
    """Minutes at this app's share of the advertised budget, else at the last run's pace."""
    total = getattr(last, "budget_total", None)
    if total:
        window = float(last.budget_window_seconds or settings.rate_limit_window_seconds)
        per_window = total * settings.rate_limit_share
        return (credits / per_window * window / 60,
                f"{per_window:,.0f} of {total:,} credits per {int(window)} s")
    if last is not None and last.requests and last.seconds:
        return calls * last.seconds / last.requests / 60, "at the last run's pace (the vendor advertised no budget)"
    return None, "no budget seen yet: run a sync first"
