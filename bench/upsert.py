"""Bulk upsert (the product's ingest.write_page) against raw COPY of the same rows.

The goal's baseline is a binary COPY of the same records straight into `tickets`: same table, same indexes, same WAL,
so the ratio is what the upsert machinery costs (staging table, conflict check, change test, counts). A second COPY
into an UNLOGGED table without indexes is printed too: it shows what the cache's indexes and WAL cost on their own.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .results import Row, count, median

GOAL = 0.5
COPY_TABLE = "bench_copy_target"
INCLUDES = {"freshservice": ["requester", "stats"], "freshdesk": ["description", "requester", "stats"]}


def templates(sim: Any) -> list[Any]:
    """Map the simulator's live Freshworks tickets, list-shaped as the sync receives them, to records."""
    from tickettracker.connectors.freshworks import ticket_record

    found = []
    for name, includes in INCLUDES.items():
        vendor = sim.vendor(name)
        with vendor.store.lock:
            items = [item for item in vendor.store.items.values() if item.state == "live"]
        for item in items:
            wire = json.loads(json.dumps(vendor.render(item, includes, None)))
            found.append(ticket_record(wire, name, vendor.base_url))
    return found


def sample_records(models: list[Any], total: int, tag: str) -> list[Any]:
    """Return `total` records cycled from the models, each with a fresh external id."""
    return [replace(record, external_id=f"bench-{tag}-{n}") for n, record in zip(range(total), itertools.cycle(models))]


def _copy_row(record: Any, columns: tuple[str, ...], json_columns: frozenset[str]) -> list[Any]:
    """Return a record's values in column order, the plainest way psycopg accepts them."""
    values = [getattr(record, name) for name in columns]
    return [Jsonb(v) if name in json_columns else list(v) if isinstance(v, tuple) else v
            for name, v in zip(columns, values, strict=True)]


def copy_rate(conninfo: str, records: list[Any], table: str) -> float:
    """Binary COPY the records into `table` in one transaction; return rows per second."""
    from tickettracker.sync.ingest import COLUMNS, COPY_TYPES, JSON_COLUMNS

    cols = ", ".join(COLUMNS)
    with psycopg.connect(conninfo) as conn:
        if table == COPY_TABLE:
            conn.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS {COPY_TABLE} AS "  # noqa: S608 - constant names
                         f"SELECT {cols} FROM tickets WITH NO DATA")
            conn.execute(f"TRUNCATE {COPY_TABLE}")
            conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for record in records:
                copy.write_row(_copy_row(record, COLUMNS, JSON_COLUMNS))
        conn.commit()
        return len(records) / (time.perf_counter() - started)


def upsert_rate(app: Any, records: list[Any], batch: int) -> float:
    """Upsert the records through ingest.write_page in batches of `batch`; return rows per second."""
    from tickettracker.store.extensions import db
    from tickettracker.sync.ingest import write_page

    with app.app_context():
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            write_page("freshdesk", records[start:start + batch], None)
        seconds = time.perf_counter() - started
        db.session.remove()
    return len(records) / seconds


def conversion_seconds(records: list[Any]) -> float:
    """Return the time write_page spends turning the records into COPY rows (ingest.copy_row), for the note."""
    from tickettracker.sync.ingest import copy_row

    started = time.perf_counter()
    for record in records:
        copy_row(record)
    return time.perf_counter() - started


def cleanup(conninfo: str) -> None:
    """Delete the benchmark's rows and the COPY table, then vacuum so later measurements see a tidy table."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DELETE FROM tickets WHERE external_id LIKE 'bench-%'")
        conn.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        conn.execute("VACUUM ANALYZE tickets")


def measure_upsert(app: Any, conninfo: str, sim: Any, rows: int, page: int, rounds: int) -> list[Row]:
    """Per round: both COPYs, one large write_page batch, then page-sized write_page calls, each with fresh rows."""
    rates: dict[str, list[float]] = {"copy": [], "bare": [], "large": [], "pages": []}
    convert: list[float] = []
    models = templates(sim)
    try:
        for n in range(rounds):
            rates["copy"].append(copy_rate(conninfo, sample_records(models, rows, f"c{n}"), "tickets"))
            rates["bare"].append(copy_rate(conninfo, sample_records(models, rows, f"b{n}"), COPY_TABLE))
            large = sample_records(models, rows, f"l{n}")
            convert.append(conversion_seconds(large))
            rates["large"].append(upsert_rate(app, large, len(large)))
            rates["pages"].append(upsert_rate(app, sample_records(models, rows, f"p{n}"), page))
    finally:
        cleanup(conninfo)
    share = median([c * r / rows for c, r in zip(convert, rates["large"], strict=True)])
    return [_row("4a", f"upsert rows/s: write_page, {page}-row pages (as a sync does), {rows:,} new rows",
                 rates["pages"], rates["copy"]),
            _row("4b", f"upsert rows/s: write_page, one {rows:,}-row batch "
                       f"({share:.0%} of it in ingest.copy_row)", rates["large"], rates["copy"]),
            Row("4c", f"binary COPY of the same records into tickets (its 14 indexes, logged), {rows:,} rows in one "
                      "transaction", f"{count(median(rates['copy']))} rows/s", "baseline"),
            Row("4d", f"binary COPY into an UNLOGGED table without indexes, {rows:,} rows (what indexes and WAL cost)",
                f"{count(median(rates['bare']))} rows/s", "—",
                f"4a {_ratio(rates['pages'], rates['bare']):.2f}×, 4b {_ratio(rates['large'], rates['bare']):.2f}×, "
                f"4c {_ratio(rates['copy'], rates['bare']):.2f}×")]


def _ratio(rates: list[float], bases: list[float]) -> float:
    """Return the median of the per-round rate ÷ base ratios."""
    return median([rate / base for rate, base in zip(rates, bases, strict=True)])


def _row(key: str, what: str, rates: list[float], copies: list[float]) -> Row:
    """A row whose ratio is the median of the per-round upsert ÷ COPY ratios."""
    ratio = _ratio(rates, copies)
    return Row(key, what, f"{count(median(rates))} rows/s", f"≥ {GOAL}× COPY", f"{ratio:.2f}× COPY", ratio >= GOAL)
