"""What the change classification costs: write_page with it (as a sync run writes, recording the classes on its run)
against write_page without it, on the same kind of 100-row pages, interleaved page by page in one run.

Each pair of pages first inserts fresh rows, then updates them (status, assignee, priority, due time): the update is
where the classification reads the previous rows, the insert where it only counts new ones. The ratio is the median
of the with ÷ without page times, minus one: the extra cost per page.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from .results import Row, median, ms
from .upsert import cleanup, sample_records, templates

GOAL = 0.15


def _changed(records: list[Any]) -> list[Any]:
    """The same items a minute later: reopened or resolved, reassigned, urgent, due an hour ago."""
    now = datetime.now(timezone.utc)
    out = []
    for n, record in enumerate(records):
        category = "resolved" if n % 3 == 0 else "open"
        later = (record.updated_at or now) + timedelta(minutes=1)
        out.append(replace(record, status_category=category, assignee=f"agent-{n % 7}", priority_code=4 - n % 2,
                           due_by=now - timedelta(hours=1), updated_at=later))
    return out


def _page_seconds(records: list[Any], run_id: str, scope: Any) -> float:
    """Write one page (fenced on the run, classified when scope is given); return the seconds it took."""
    from tickettracker.sync.ingest import write_page

    started = time.perf_counter()
    write_page("freshdesk", records, None, run_id=run_id, changes=scope)
    return time.perf_counter() - started


def measure_changes(app: Any, conninfo: str, sim: Any, rows: int, page: int, rounds: int) -> list[Row]:
    """Per round, `rows` fresh items per variant in `page`-row pages, inserted then updated, variants interleaved."""
    from tickettracker.core.vocabulary import SyncStatus
    from tickettracker.sync import runs
    from tickettracker.sync.changes import ChangeScope

    models = templates(sim)
    times: dict[bool, list[float]] = {False: [], True: []}
    scope = ChangeScope(datetime.now(timezone.utc) - timedelta(hours=2))
    with app.app_context():
        run_id = runs.create_run("JIRA", "manual", "bench").run.id
        runs.mark_running(run_id)
        try:
            for n in range(rounds):
                plain = sample_records(models, rows, f"x{n}")
                classified = sample_records(models, rows, f"k{n}")
                for start in range(0, rows, page):
                    for batch_of in (lambda r: r, _changed):
                        times[False].append(_page_seconds(batch_of(plain[start:start + page]), run_id, None))
                        times[True].append(_page_seconds(batch_of(classified[start:start + page]), run_id, scope))
        finally:
            runs.finish(run_id, SyncStatus.CANCELLED, "benchmark")
    cleanup(conninfo)
    base, extra = median(times[False]), median(times[True])
    ratio = median([w / b for w, b in zip(times[True], times[False], strict=True)]) - 1
    return [Row("11", f"change classification per {page}-row page (insert + update pages, {rows:,} rows × "
                      f"{rounds} rounds): write_page {ms(base)} without, {ms(extra)} with",
                f"+{ms(extra - base)} per page", f"≤ {GOAL:.0%} extra", f"{ratio:+.1%}", ratio <= GOAL)]
