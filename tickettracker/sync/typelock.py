"""One writer per sync type at a time: a PostgreSQL advisory lock held by full runs and the at-risk refresh.

The one-run-per-type rule (a unique index over active sync_runs rows) keeps two full runs of a type apart. The
at-risk refresh is a run of its own type, so it has its own status and slot, and this lock keeps it apart from the
full runs of the types it touches: a full run takes its type's lock for its whole length (waiting, at most one short
refresh batch, if the refresh holds it); the refresh only *tries* each type's lock and skips that part when a full
run holds it (the full run refreshes those items anyway). The lock lives on its own connection, so a worker that
dies releases it with its connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from tickettracker.store.extensions import db

LOCK_KEYS = {"Incidents": 7_310_101, "JIRA": 7_310_102}


@contextmanager
def type_lock(sync_type: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold the type's lock for the block; yield False (without waiting) when wait is off and it is taken."""
    key = LOCK_KEYS.get(sync_type)
    if key is None:
        yield True
        return
    conn = db.engine.connect()
    held = False
    try:
        if wait:
            conn.execute(select(func.pg_advisory_lock(key)))
            held = True
        else:
            held = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
        conn.commit()
        yield held
    finally:
        try:
            if held:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.commit()
        finally:
            conn.close()
