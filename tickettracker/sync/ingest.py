"""Write pages into the ticket cache: one transaction per page, set-based, no-op rows left untouched."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import ARRAY, Boolean, DateTime, SmallInteger, Text, text
from sqlalchemy.dialects.postgresql import JSONB

from tickettracker.connectors.base import Checkpoint, TicketRecord
from tickettracker.core.changes import IDS_PER_CLASS
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import Ticket
from tickettracker.sync.changes import ChangeScope, ChangeSet, record_changes
from tickettracker.sync.links import LinkScope, write_page_links

COLUMNS = ("source", "external_id", "kind", "subject", "description_text", "status_code", "status_label",
           "status_category", "priority_code", "priority_label", "channel", "requester", "assignee", "group_name",
           "project", "workspace", "created_at", "updated_at", "due_by", "fr_due_by", "first_responded_at",
           "resolved_at", "is_escalated", "tags", "url", "custom_fields", "raw", "is_deleted", "is_spam",
           "external_key")
CONTENT = COLUMNS[2:]
_COLS = ", ".join(COLUMNS)
_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in CONTENT)
_DIFF = (f"({', '.join('tickets.' + c for c in CONTENT)}) IS DISTINCT FROM "
         f"({', '.join('EXCLUDED.' + c for c in CONTENT)})")
# Only rows arriving deleted or spam can count as "deleted", so only they need their previous state: a join over
# the whole page would make the planner hash the entire tickets table for a large batch.
# Every row of a page belongs to the account the source's cursor is bound to (sync/accounts.py): %(account)s.
UPSERT_SQL = f"""
WITH prev AS (
    SELECT t.source, t.external_id, (t.is_deleted OR t.is_spam) AS was_gone
    FROM tickets t JOIN _tt_page p ON t.source = p.source AND t.external_id = p.external_id
    WHERE (p.is_deleted OR p.is_spam) AND t.account = %(account)s
), up AS (
    INSERT INTO tickets ({_COLS}, account, synced_at) SELECT {_COLS}, %(account)s, now() FROM _tt_page
    ON CONFLICT (source, external_id, account) DO UPDATE SET {_SET}, hidden_reason = NULL, synced_at = now()
    WHERE {_DIFF} OR tickets.hidden_reason IS NOT NULL
    RETURNING source, external_id, (xmax = 0) AS inserted, (is_deleted OR is_spam) AS gone
)
SELECT count(*) FILTER (WHERE up.inserted AND NOT up.gone),
       count(*) FILTER (WHERE up.gone AND NOT coalesce(prev.was_gone, false)),
       count(*)
FROM up LEFT JOIN prev ON prev.source = up.source AND prev.external_id = up.external_id
"""  # noqa: S608 - identifiers come from the constant COLUMNS tuple, values travel by COPY  # nosec B608
# The same upsert, classifying what happened to each written row (core/changes.py) from its previous row, which the
# `prev` CTE reads from the statement's snapshot, before the INSERT. Only rows the upsert actually wrote are classed.
_OPEN = "('open', 'pending', 'todo', 'in_progress')"
_DONE = "('resolved', 'closed', 'done')"


def _urgent(row: str) -> str:
    """SQL: the row is urgent (Freshworks priority Urgent; Jira Highest or Blocker)."""
    return (f"(CASE WHEN {row}.source = 'jira' THEN lower({row}.priority_label) IN ('highest', 'blocker') "
            f"ELSE coalesce({row}.priority_code >= 4, false) END)")


_CLASSES = {
    "new": "up.inserted AND NOT up.gone",
    "resolved": f"prev_live AND prev.status_category IN {_OPEN} AND up.status_category IN {_DONE} AND NOT up.gone",
    "reopened": f"prev_live AND prev.status_category IN {_DONE} AND up.status_category IN {_OPEN} AND NOT up.gone",
    # overdue now and not at the last run's time (%(since)s; without a last run, at the row's last write; an item
    # first seen by the first run of its type is only new)
    "newly_overdue": f"""NOT up.gone AND up.status_category IN {_OPEN} AND up.due_by <= now() AND NOT coalesce(
        CASE WHEN prev_live THEN prev.status_category IN {_OPEN} AND prev.due_by <= coalesce(%(since)s, prev.synced_at)
             ELSE coalesce(up.due_by <= %(since)s, true) END, false)""",
    "new_urgent": f"NOT up.gone AND up.status_category IN {_OPEN} AND {_urgent('up')} "
                  f"AND (prev_live OR %(since)s IS NOT NULL) AND NOT (prev_live AND {_urgent('prev')})",
    "reassigned": "prev_live AND NOT up.gone AND prev.assignee IS NOT NULL "
                  "AND up.assignee IS DISTINCT FROM prev.assignee",
    "deleted": "up.gone AND NOT coalesce(prev.was_gone, false)",
}
CHANGE_NAMES = tuple(_CLASSES)
_FLAGS = ", ".join(f"({sql}) AS c_{name}" for name, sql in _CLASSES.items())
_HITS = ", ".join(f"('{name}', c_{name})" for name in _CLASSES)
# With %(run)s, the classes are added to the run's tally (sync/changes.py) by the same statement.
CLASSIFY_SQL = f"""
WITH prev AS (
    SELECT t.source, t.external_id, (t.is_deleted OR t.is_spam) AS was_gone, t.status_category, t.priority_code,
           t.priority_label, t.assignee, t.due_by, t.synced_at
    FROM tickets t JOIN _tt_page p ON t.source = p.source AND t.external_id = p.external_id
    WHERE t.account = %(account)s
), up AS (
    INSERT INTO tickets ({_COLS}, account, synced_at) SELECT {_COLS}, %(account)s, now() FROM _tt_page
    ON CONFLICT (source, external_id, account) DO UPDATE SET {_SET}, hidden_reason = NULL, synced_at = now()
    WHERE {_DIFF} OR tickets.hidden_reason IS NOT NULL
    RETURNING id, source, external_id, (xmax = 0) AS inserted, (is_deleted OR is_spam) AS gone, status_category,
              priority_code, priority_label, assignee, due_by
), cls AS (
    SELECT up.id, up.inserted, up.gone, {_FLAGS}
    FROM up LEFT JOIN prev ON prev.source = up.source AND prev.external_id = up.external_id,
         LATERAL (SELECT prev.external_id IS NOT NULL AND NOT prev.was_gone AS prev_live) AS live
), tally AS (
    SELECT hit.name, count(*) AS n, (array_agg(cls.id ORDER BY cls.id))[1:{IDS_PER_CLASS}] AS ids
    FROM cls CROSS JOIN LATERAL (VALUES {_HITS}) AS hit (name, found) WHERE hit.found GROUP BY hit.name
), saved AS (
    INSERT INTO sync_run_changes (run_id, change, count, ticket_ids)
    SELECT %(run)s, name, n, ids FROM tally WHERE %(run)s::text IS NOT NULL
    ON CONFLICT (run_id, change) DO UPDATE SET count = sync_run_changes.count + EXCLUDED.count,
        ticket_ids = (sync_run_changes.ticket_ids || EXCLUDED.ticket_ids)[1:{IDS_PER_CLASS}]
)
SELECT count(*) FILTER (WHERE inserted AND NOT gone), count(*) FILTER (WHERE c_deleted), count(*),
       (SELECT jsonb_object_agg(name, jsonb_build_array(n, ids)) FROM tally)
FROM cls
"""  # noqa: S608 - identifiers and predicates are constants of this module, values travel by COPY  # nosec B608
# A Jira issue moved to another project arrives with a new key and the same id: its previous key is kept so text
# written before the move still links to it (store/links.py). Runs before the upsert, which overwrites the key.
KEY_ALIAS_SQL = """
INSERT INTO jira_key_aliases (account, old_key, external_id)
SELECT %(account)s, t.external_key, t.external_id
FROM tickets t JOIN _tt_page p ON t.source = p.source AND t.external_id = p.external_id
WHERE t.source = 'jira' AND t.account = %(account)s AND t.external_key IS NOT NULL
  AND p.external_key IS DISTINCT FROM t.external_key
ON CONFLICT (account, old_key) DO UPDATE SET external_id = EXCLUDED.external_id, replaced_at = now()
"""
# Every page runs in its own transaction with its cursor, so an asynchronous commit is safe: a database crash can
# lose only the last few pages together with the cursors that cover them, and the next sync reads them again.
STAGE_SQL = ("SET LOCAL synchronous_commit = off; "  # noqa: S608 - constant COLUMNS  # nosec B608
             f"CREATE TEMP TABLE IF NOT EXISTS _tt_page ON COMMIT DELETE ROWS AS SELECT {_COLS} "
             "FROM tickets WITH NO DATA")
# Fencing: a write first share-locks its run's row and checks the run is still Running. Declaring a run lost
# (lifecycle.recover) updates that row, so it waits for a page in flight, and every later page of the lost attempt
# sees the new status and is rejected in its own transaction.
FENCE_SQL = text("SELECT status FROM sync_runs WHERE id = :id FOR SHARE")
SAVE_CURSOR_SQL = text("""
INSERT INTO sync_cursors (source, watermark, advanced_at, state) VALUES (:source, :watermark, now(), :state)
ON CONFLICT (source) DO UPDATE
SET watermark = coalesce(EXCLUDED.watermark, sync_cursors.watermark), advanced_at = now(), state = EXCLUDED.state
""")


class StaleAttempt(Exception):  # noqa: N818 - a signal to stop, like SyncCancelled
    """The run this attempt writes for is no longer running (declared lost, retried): its writes are refused."""

    def __init__(self, run_id: str, status: int | None) -> None:
        """Keep which run was fenced off and the status it has now."""
        now = "gone" if status is None else SyncStatus(status).label.lower()
        super().__init__(f"this attempt no longer owns run {run_id} (the run is {now}: it was declared lost and "
                         "a newer attempt took over); its page was rejected and it stops")
        self.run_id = run_id


def fence(run_id: str | None) -> None:
    """In the current transaction, lock the run's row and refuse to go on unless the run is still Running."""
    if run_id is None:
        return
    status = db.session.execute(FENCE_SQL, {"id": run_id}).scalar()
    if status != int(SyncStatus.RUNNING):
        raise StaleAttempt(run_id, status)


@dataclass
class WriteResult:
    """What one page did to the cache."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    changes: dict[str, ChangeSet] = field(default_factory=dict)  # per class, when the page was classified


@dataclass
class Changed:
    """How many rows a fenced write changed (set by its body); a change bumps the source's data generation."""

    rows: int = 0


@contextmanager
def fenced_write(source: str, run_id: str | None) -> Iterator[Changed]:
    """One transaction over a source's rows, fenced on run_id: commit at the end, roll back on any error; after the
    commit, bump the source's data generation when the body reports changed rows."""
    changed = Changed()
    try:
        fence(run_id)
        yield changed
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if changed.rows:
        generations.bump_sources([source])


def dedupe(records: Iterable[TicketRecord]) -> list[TicketRecord]:
    """Keep one record per key: the one with the latest updated_at (the later one on ties)."""
    best: dict[tuple[str, str], TicketRecord] = {}
    for record in records:
        key = (record.source, record.external_id)
        kept = best.get(key)
        if kept is None or _newer_or_same(record.updated_at, kept.updated_at):
            best[key] = record
    return list(best.values())


def _newer_or_same(candidate: datetime | None, kept: datetime | None) -> bool:
    """True when candidate is at least as new as kept (None counts as oldest)."""
    if kept is None:
        return True
    return candidate is not None and candidate >= kept


def _clean(value: Any) -> Any:
    """Drop NUL characters, which PostgreSQL text and jsonb cannot store."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, tuple):
        return [_clean(item) for item in value]
    return value


_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _json_dumps(value: Any) -> str:
    """Serialise JSON without the \\u0000 escape PostgreSQL rejects (an escaped backslash before "u0000" stays)."""
    dumped = json.dumps(value, ensure_ascii=False, default=str)
    return _NUL_ESCAPE.sub(r"\1", dumped) if "\\u0000" in dumped else dumped


def _jsonb(value: Any) -> Jsonb:
    """Wrap a document for a jsonb column."""
    return Jsonb(value, dumps=_json_dumps)


def _utc(value: datetime | None) -> datetime | None:
    """Read a naive timestamp as UTC, the way the connectors' mapping does (binary COPY refuses naive ones)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _smallint(value: int | None) -> int | None:
    """Refuse a value outside SMALLINT: binary COPY would silently wrap it (99999 arrives as -31073)."""
    if value is not None and not -32768 <= value <= 32767:
        raise psycopg.DataError(f"value {value} is out of range for a SMALLINT column")
    return value


_COPY_TYPES = ((SmallInteger, "int2", _smallint), (Text, "text", _clean), (DateTime, "timestamptz", _utc),
               (Boolean, "bool", None), (JSONB, "jsonb", _jsonb))


def _copy_type(kind: Any) -> tuple[str, Callable[[Any], Any] | None]:
    """Return the PostgreSQL type name a binary COPY sends for a column type, and the conversion it needs."""
    if isinstance(kind, ARRAY):
        name, _ = _copy_type(kind.item_type)
        return name + "[]", _clean
    for sqla_type, name, convert in _COPY_TYPES:
        if isinstance(kind, sqla_type):
            return name, convert
    raise TypeError(f"no binary COPY type for {kind!r}")


_PLAN = [(name, *_copy_type(Ticket.__table__.columns[name].type)) for name in COLUMNS]
COPY_TYPES = [type_name for _, type_name, _ in _PLAN]
JSON_COLUMNS = frozenset(name for name, type_name, _ in _PLAN if type_name == "jsonb")


def copy_row(record: TicketRecord) -> list[Any]:
    """Return the binary COPY row for a record, in COLUMNS order."""
    return [getattr(record, name) if convert is None else convert(getattr(record, name)) for name, _, convert in _PLAN]


def _driver_connection() -> Any:
    """Return the psycopg connection of the session's current transaction."""
    return db.session.connection().connection.driver_connection


def _upsert(records: Sequence[TicketRecord], account: str, changes: ChangeScope | None) -> WriteResult:
    """COPY the page (binary) into a temp table and upsert it (as rows of account) in one statement; with a change
    scope, the same statement classifies what happened to each row it wrote."""
    raw = _driver_connection()
    with raw.cursor() as cur:
        # One staging table per connection, emptied by every commit: no catalog churn per page.
        cur.execute(STAGE_SQL)
        with cur.copy(f"COPY _tt_page ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for record in records:
                copy.write_row(copy_row(record))
        if records and records[0].source == "jira":
            cur.execute(KEY_ALIAS_SQL, {"account": account})
        if changes is None:
            cur.execute(UPSERT_SQL, {"account": account})
        else:
            cur.execute(CLASSIFY_SQL, {"account": account, "since": changes.since, "run": changes.run_id})
        created, deleted, written, *tally = cur.fetchone()
    found = {name: ChangeSet(n, list(ids)) for name, (n, ids) in (tally[0] or {}).items()} if tally else {}
    return WriteResult(created=created, updated=written - created - deleted, deleted=deleted,
                       unchanged=len(records) - written, changes=found)


def save_cursor(source: str, checkpoint: Checkpoint) -> None:
    """Store a source's cursor in the current transaction (no commit)."""
    db.session.execute(SAVE_CURSOR_SQL, {"source": source, "watermark": checkpoint.watermark,
                                         "state": json.dumps(checkpoint.state)})


def write_page(source: str, records: Sequence[TicketRecord], checkpoint: Checkpoint | None,
               links: LinkScope | None = None, *, account: str = "", run_id: str | None = None,
               changes: ChangeScope | None = None) -> WriteResult:
    """Upsert a page (rows of account), its links (when a scope is given) and the cursor in ONE transaction; roll
    back all on error.

    With run_id, the write is fenced: it only happens while that run is still Running (else StaleAttempt).
    With a change scope, every written row is classified (core/changes.py); with run_id too, the same statement adds
    the classes to the run's tally.
    """
    batch = dedupe(records)
    with fenced_write(source, run_id) as changed:
        if changes is not None:
            changes = replace(changes, run_id=run_id)
        result = _upsert(batch, account, changes) if batch else WriteResult()
        if links is not None and batch:
            write_page_links(source, batch, links, account)
        if checkpoint is not None:
            save_cursor(source, checkpoint)
        changed.rows = result.created + result.updated + result.deleted
    return result


def load_cursor(source: str) -> tuple[datetime | None, dict[str, Any]]:
    """Return the stored (watermark, state) of a source, or (None, {})."""
    row = db.session.execute(text("SELECT watermark, state FROM sync_cursors WHERE source = :s"),
                             {"s": source}).first()
    db.session.commit()
    if row is None:
        return None, {}
    return row[0], dict(row[1] or {})


def _load_present(external_ids: Iterable[str]) -> None:
    """COPY a set of ids into a temp table for set-based comparisons."""
    raw = _driver_connection()
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE _tt_present (external_id text PRIMARY KEY) ON COMMIT DROP")
        with cur.copy("COPY _tt_present (external_id) FROM STDIN") as copy:
            for external_id in set(external_ids):
                copy.write_row([external_id])
        cur.execute("ANALYZE _tt_present")


def census_diff(source: str, present: Iterable[str], account: str = "") -> tuple[dict[str, str | None], list[str]]:
    """Compare a full id list with the cache.

    Return the live rows the vendor no longer lists (id → the project they were cached in: the project id from
    the payload when there is one, else the project column) and the ids to fetch again (absent or not live).
    """
    try:
        _load_present(present)
        missing = db.session.execute(text(
            "SELECT t.external_id, coalesce(t.raw #>> '{fields,project,id}', t.project) FROM tickets t "
            "WHERE t.source = :s AND t.account = :a AND NOT t.is_deleted AND NOT EXISTS "
            "(SELECT 1 FROM _tt_present p WHERE p.external_id = t.external_id) ORDER BY t.external_id"),
            {"s": source, "a": account}).all()
        refetch = db.session.execute(text(
            "SELECT p.external_id FROM _tt_present p LEFT JOIN tickets t ON t.source = :s AND t.account = :a "
            "AND t.external_id = p.external_id WHERE t.id IS NULL OR t.is_deleted ORDER BY p.external_id"),
            {"s": source, "a": account}).scalars().all()
    finally:
        db.session.rollback()
    return dict(missing), list(refetch)


def mark_deleted(source: str, external_ids: Sequence[str], checkpoint: Checkpoint | None = None, *,
                 account: str = "", run_id: str | None = None) -> int:
    """Flag ids as deleted (and store the cursor) in one fenced transaction; return how many rows changed."""
    return _mark(source, account, external_ids, None, checkpoint, run_id)


def mark_hidden(source: str, external_ids: Sequence[str], reason: str, *, account: str = "",
                run_id: str | None = None) -> int:
    """Take ids out of the live lists for a reason other than deletion (never counted as deleted)."""
    return _mark(source, account, external_ids, reason, None, run_id)


def _mark(source: str, account: str, external_ids: Sequence[str], reason: str | None,
          checkpoint: Checkpoint | None, run_id: str | None) -> int:
    """Flag live rows as gone with an optional hidden_reason, and store the cursor, in one transaction."""
    with fenced_write(source, run_id) as changed:
        rows: list[Any] = []
        if external_ids:
            rows = list(db.session.execute(text(
                "UPDATE tickets SET is_deleted = true, hidden_reason = :reason, synced_at = now() "
                "WHERE source = :s AND account = :a AND external_id = ANY(:ids) AND NOT is_deleted "
                "RETURNING id, is_spam"),
                {"s": source, "a": account, "ids": list(external_ids), "reason": reason}))
        changed.rows = len(rows)
        gone = sorted(row.id for row in rows if not row.is_spam)
        if reason is None and run_id is not None and gone:  # a deletion the census found is a change of the run
            record_changes(run_id, {"deleted": ChangeSet(len(gone), gone[:IDS_PER_CLASS])})
        if checkpoint is not None:
            save_cursor(source, checkpoint)
    return changed.rows
