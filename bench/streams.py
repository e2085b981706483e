"""Open SSE streams per web process, publish-to-client latency and memory per stream, via bench/sse.py."""

from __future__ import annotations

import argparse
from typing import Any

from .results import Row, ms, percentile

GOAL_P99 = 0.250  # the goal bench/sse.py prints
HEADROOM = 10  # connections of the gevent pool left for page requests when filling the process


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
            "pages": result["pages_during_events"], "asked": streams}


def _latency_row(key: str, found: dict[str, Any], events: int) -> Row:
    """The publish-to-client row of one run: p50/p99 and whether every event reached every stream."""
    least, held = found["min_events"], found["held"]
    delivered = least >= events and least * held == found["delivered"] and held == found["asked"]
    return Row(key, f"publish-to-client latency, {held:,} streams × {found['delivered'] / max(1, held):.0f} events "
                    f"({found['delivered']:,} delivered, {'all' if delivered else 'NOT all'})",
               f"p50 {ms(found['p50'])}, p99 {ms(found['p99'])}; p99 {ms(found['busy_p99'])} while pages load",
               "p99 ≤ 250 ms, all delivered", f"{found['p99'] / GOAL_P99:.2f}× 250 ms",
               delivered and found["p99"] <= GOAL_P99)


def measure_streams(app: Any, url: str, redis_url: str, web: Any, connections: int, events: int, pages: int,
                    fill: bool = True) -> list[Row]:
    """Hold 1,000 streams, then (fill) as many as the process's gevent pool allows; time events and pages."""
    first = _summary(run_sse(app, url, redis_url, web, 1000, events, pages), 1000)
    runs = [("7b", first)]
    held = f"{first['held']:,} of 1,000 (opened in {first['seconds']:.1f} s)"
    memory = f"{first['kib']:.0f} KiB at 1,000"
    if fill:
        most = connections - HEADROOM
        full = _summary(run_sse(app, url, redis_url, web, most, events, pages), most, first["rss_before"])
        runs.append(("7c", full))
        held += f"; {full['held']:,} of {most:,} (pool cap WEB_WORKER_CONNECTIONS={connections:,})"
        memory += f"; {full['kib']:.0f} KiB at {full['ready']:,} (growth since before the first streams)"
    rows = [Row("7a", "open SSE streams held by one gevent web process (1 run each)", held, "1,000",
                f"{first['held'] / 1000:.2f}× goal", first["held"] >= 1000)]
    rows += [_latency_row(key, found, events) for key, found in runs]
    rows.append(Row("7d", "web process memory per open stream (RSS growth ÷ streams)", memory))
    last = runs[-1][1]
    rows.append(Row("7e", f"GET /incidents (1 client, {pages} requests) while {last['held']:,} streams get events",
                    f"p50 {ms(last['pages']['p50'] / 1000)}, p99 {ms(last['pages']['p99'] / 1000)}"))
    return rows
