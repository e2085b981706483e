"""Figures, goals and ratios: the rows of the one results table, and the statistics behind them."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile of values (share 0.99 for p99)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    """Return the median of values (nan when there are none)."""
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    """Format seconds as milliseconds with sensible precision."""
    value = seconds * 1000
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def count(value: float) -> str:
    """Format a count or rate with thousands separators."""
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.1f}"


@dataclass
class Row:
    """One line of the results table: what was measured, the figure, the goal, the ratio and a verdict."""

    key: str
    what: str
    figure: str
    goal: str = "—"
    ratio: str = "—"
    ok: bool | None = None

    @property
    def mark(self) -> str:
        """Return ✓ for a met goal, ✗ for a missed one, blank when there is no goal."""
        return "" if self.ok is None else "✓" if self.ok else "✗"


def error_row(key: str, what: str, error: BaseException) -> Row:
    """Build the row that reports a measurement that broke."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return Row(key, what, f"ERROR {text[:160]}", ok=False)


def table(rows: list[Row]) -> str:
    """Render rows as a Markdown table (it reads as plain text too)."""
    head = ("#", "measurement", "figure (median of runs)", "goal", "ratio", "")
    cells = [head] + [(r.key, r.what, r.figure, r.goal, r.ratio, r.mark) for r in rows]
    widths = [max(len(str(line[i])) for line in cells) for i in range(len(head))]
    def line(values: tuple[str, ...]) -> str:
        """Render one table line padded to the column widths."""
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(values) for values in cells[1:])])
