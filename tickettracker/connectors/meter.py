"""What a connector's HTTP traffic cost: requests, credits, waits and retries, per run and per pass, with the
rate-limit budget the vendor advertised. Filled by the HTTP client and the connectors, read by the sync runner
(which writes the log lines and stores the figures); nothing here logs or stores anything itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

# The rate-limit headers worth keeping: Freshworks (Total/Remaining/Used-CurrentRequest), Jira Cloud
# (Limit/Remaining/NearLimit/Reset, RateLimit-Reason) and Jira Data Center (Interval-Seconds/FillRate).
BUDGET_HEADERS = ("X-RateLimit-Total", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                  "X-RateLimit-Used-CurrentRequest", "X-RateLimit-Interval-Seconds", "X-RateLimit-FillRate",
                  "X-RateLimit-NearLimit", "X-RateLimit-Reset", "RateLimit-Reason", "Retry-After")


def int_header(headers: Mapping[str, str], *names: str) -> int | None:
    """Return the first integer-valued header among names."""
    for name in names:
        raw = headers.get(name)
        if raw is not None:
            try:
                return int(float(raw))
            except ValueError:
                continue
    return None


@dataclass(frozen=True)
class BudgetReading:
    """One response's rate-limit headers: the budget per window, what is left, what the request cost."""

    total: int | None
    remaining: int | None
    cost: int
    window: int | None

    @classmethod
    def of(cls, headers: Mapping[str, str], status: int = 200) -> BudgetReading:
        """Read the headers; without a cost header a request costs one credit, a refused one (429) none."""
        cost = int_header(headers, "X-RateLimit-Used-CurrentRequest")
        return cls(total=int_header(headers, "X-RateLimit-Total", "X-RateLimit-Limit"),
                   remaining=int_header(headers, "X-RateLimit-Remaining"),
                   cost=max(0, cost if cost is not None else 0 if status == 429 else 1),
                   window=int_header(headers, "X-RateLimit-Interval-Seconds"))


@dataclass
class BudgetSeen:
    """The budget a run saw: the last advertised total and window, the last and lowest remaining, the raw headers."""

    total: int | None = None
    window: int | None = None
    remaining: int | None = None
    remaining_min: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def note(self, reading: BudgetReading, headers: Mapping[str, str]) -> None:
        """Keep what one response advertised."""
        if reading.total:
            self.total = reading.total
        if reading.window:
            self.window = reading.window
        if reading.remaining is not None:
            self.remaining = reading.remaining
            self.remaining_min = (reading.remaining if self.remaining_min is None
                                  else min(self.remaining_min, reading.remaining))
        seen = {name: str(headers[name]) for name in BUDGET_HEADERS if headers.get(name) is not None}
        if seen:
            self.headers = seen


@dataclass
class Tally:
    """Counters of one stretch of work (a whole run, or one pass)."""

    pages: int = 0
    items: int = 0
    requests: int = 0
    credits: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0


@dataclass
class PassTally(Tally):
    """One pass of a connector (a filter, a workspace's list, a search, a census) and its cursor."""

    name: str = ""
    started_from: str = ""
    ended_at: str = ""
    finished: bool = False


PassObserver = Callable[[str, PassTally], None]  # ("start" | "end", the pass)


@dataclass
class HttpStats(Tally):
    """Request counters shared between a connector's HTTP client, the connector and the sync.

    The totals cover the whole run; the current pass (begin_pass … end_pass) gets the same counts, and the observer
    (set by the sync) hears when a pass starts and ends.
    """

    budget: BudgetSeen = field(default_factory=BudgetSeen)
    observer: PassObserver | None = None
    current: PassTally | None = None
    passes: list[PassTally] = field(default_factory=list)

    def _parts(self) -> tuple[Tally, ...]:
        """The tallies a count goes into: the run's and the current pass's."""
        return (self,) if self.current is None else (self, self.current)

    def sent(self, headers: Mapping[str, str] | None = None, status: int = 200) -> BudgetReading | None:
        """Count one request (and its credits when the vendor answered)."""
        reading = BudgetReading.of(headers, status) if headers is not None else None
        if reading is not None:
            self.budget.note(reading, headers)
        for tally in self._parts():
            tally.requests += 1
            tally.credits += reading.cost if reading is not None else 0
        return reading

    def waited(self, seconds: float, *, rate_limited: bool) -> None:
        """Count a wait: a rate-limit wait (pacing or a 429) or a backoff before a retry."""
        for tally in self._parts():
            tally.waited_seconds += seconds
            tally.rate_limit_waits += 1 if rate_limited else 0

    def retried(self) -> None:
        """Count a retry."""
        for tally in self._parts():
            tally.retries += 1

    def page(self, items: int) -> None:
        """Count one page of a list read and the items on it."""
        for tally in self._parts():
            tally.pages += 1
            tally.items += items

    def begin_pass(self, name: str, started_from: str) -> PassTally:
        """Start counting a pass (ending the one still open, if any)."""
        if self.current is not None:
            self.end_pass(self.current.ended_at or "not recorded")
        self.current = PassTally(name=name, started_from=started_from)
        self.passes.append(self.current)
        self._tell("start", self.current)
        return self.current

    def end_pass(self, ended_at: str, *, finished: bool = True) -> PassTally | None:
        """End the current pass at a cursor; finished=False when it stopped early (a failure or a cancel)."""
        done, self.current = self.current, None
        if done is not None:
            done.ended_at, done.finished = ended_at, finished
            self._tell("end", done)
        return done

    def _tell(self, event: str, tally: PassTally) -> None:
        """Let the observer know."""
        if self.observer is not None:
            self.observer(event, tally)
