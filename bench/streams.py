"""Open SSE streams per web process, publish-to-client latency and memory per stream, via bench/sse.py."""

from __future__ import annotations

import argparse
from typing import Any

from .results import Row, ms, percentile

GOAL_P99 = 0.250  # publish-to-client p99 at HALF streams
GOAL_P99_FULL = 0.500  # ... and at FULL streams
GOAL_KIB = 40  # web process memory per open stream
HALF, FULL = 5_000, 10_000
HEADROOM = 10  # connections of the gevent pool left for page requests


def run_sse(app: Any, url: str, redis_url: str, web: Any, streams: int, events: int, pages: int) -> dict[str, Any]:
    """Run bench/sse.py's measurement (streams from a separate client process) and return its result.

    sse.measure() signs in as its own user (sse.USER / sse.PASSWORD), which is created here the first time."""
    from bench import sse
    from tickettracker.web.auth.users import create_user, find_user

    with app.app_context():
        if find_user(sse.USER) is None:
            create_user(sse.USER, sse.PASSWORD, "viewer")
    args = argparse.Namespace(streams=streams, events=events, gap=0.25, pages=pages)
    return sse.measure(url, redis_url, web, args)


def _phases(latencies: Any) -> dict[str, list[float]]:
    """Return the latencies by phase ("quiet": events alone, "busy": with page traffic)."""
    return latencies if isinstance(latencies, dict) else {"quiet": list(latencies)}


def _summary(result: dict[str, Any], streams: int, rss_base: int | None = None) -> dict[str, Any]:
    """Pull held streams, deliveries, latency percentiles and memory per stream out of a result."""
    client, ready = result["client"], result["ready"]["ready"]
    phases = _phases(client["latencies"])
    quiet, busy = phases.get("quiet", []), phases.get("busy", [])
    base = result["rss_before_kib"] if rss_base is None else rss_base
    return {"ready": ready, "held": client["held"], "seconds": result["ready"]["seconds"],
            "delivered": sum(len(v) for v in phases.values()), "min_events": client["min_events"],
            "p50": percentile(quiet, 0.5), "p99": percentile(quiet, 0.99), "busy_p99": percentile(busy, 0.99),
            "rss_before": result["rss_before_kib"], "kib": (result["rss_after_kib"] - base) / max(1, ready),
            "pages": result["pages_during_events"], "pages_alone": result["pages_without_streams"], "asked": streams}


def _timeouts(pages: dict[str, Any]) -> str:
    """', n timed out after 30 s' when page requests timed out."""
    count = pages.get("timeouts", 0)
    return f", {count} timed out after 30 s" if count else ""


def _latency_row(key: str, found: dict[str, Any], events: int, goal: float) -> Row:
    """The publish-to-client row of one run: p50/p99 and whether every event reached every stream."""
    least, held = found["min_events"], found["held"]
    delivered = least >= events and least * held == found["delivered"] and held == found["asked"]
    return Row(key, f"publish-to-client latency, {held:,} streams × {found['delivered'] / max(1, held):.0f} events "
                    f"({found['delivered']:,} delivered, {'all' if delivered else 'NOT all'})",
               f"p50 {ms(found['p50'])}, p99 {ms(found['p99'])}; p99 {ms(found['busy_p99'])} while pages load",
               f"p99 ≤ {goal * 1000:.0f} ms, all delivered", f"{found['p99'] / goal:.2f}× {goal * 1000:.0f} ms",
               delivered and found["p99"] <= goal)


def measure_streams(app: Any, url: str, redis_url: str, web: Any, connections: int, events: int, pages: int,
                    fill: bool = True) -> list[Row]:
    """Hold HALF streams, then (fill) FULL streams in one web process, from separate client processes; time events
    and pages, and the memory per stream."""
    half = _summary(run_sse(app, url, redis_url, web, HALF, events, pages), HALF)
    runs = [("7b", half, GOAL_P99)]
    held = f"{half['held']:,} of {HALF:,} (opened in {half['seconds']:.1f} s)"
    kib = [half["kib"]]
    memory = f"{half['kib']:.1f} KiB at {half['ready']:,}"
    if fill:
        if connections < FULL + HEADROOM:
            raise ValueError(f"WEB_WORKER_CONNECTIONS={connections} cannot hold {FULL:,} streams")
        full = _summary(run_sse(app, url, redis_url, web, FULL, events, pages), FULL, half["rss_before"])
        runs.append(("7c", full, GOAL_P99_FULL))
        held += f"; {full['held']:,} of {FULL:,} (opened in {full['seconds']:.1f} s)"
        kib.append(full["kib"])
        memory += f"; {full['kib']:.1f} KiB at {full['ready']:,} (growth since before the first streams)"
    most = runs[-1][1]
    rows = [Row("7a", "open SSE streams held by one gevent web process (client: separate processes)", held,
                f"{FULL:,}", f"{most['held'] / FULL:.2f}× goal", most["held"] >= FULL)]
    rows += [_latency_row(key, found, events, goal) for key, found, goal in runs]
    rows.append(Row("7d", "web process memory per open stream (RSS growth ÷ streams)", memory,
                    f"≤ {GOAL_KIB} KiB", f"{max(kib) / GOAL_KIB:.2f}× goal", max(kib) <= GOAL_KIB))
    alone, busy = half["pages_alone"]["p99"], half["pages"]["p99"]
    rows.append(Row("7e", f"GET /incidents (1 client, {pages} requests) while {half['held']:,} streams get events, "
                          "vs before the streams opened",
                    f"p99 {ms(busy / 1000)} (p50 {ms(half['pages']['p50'] / 1000)}"
                    f"{_timeouts(half['pages'])}); without streams p99 {ms(alone / 1000)}", "p99 ≤ 2× without",
                    f"{busy / alone:.2f}× without", busy <= 2 * alone))
    return rows
