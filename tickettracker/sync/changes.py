"""What a sync run changed: classes found by the page upsert (ingest.CLASSIFY_SQL), added up per run in the page's
own transaction, the newly overdue items no page carried, and the read side (run detail, API, tracker filter)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from tickettracker.core.changes import CHANGE_CLASSES, IDS_PER_CLASS
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, SyncRunChange, Ticket


@dataclass(frozen=True)
class ChangeScope:
    """Classify a page's rows; `since` is when the last completed run of the type started (None: no such run);
    write_page sets run_id to the run whose tally the classes join."""

    since: datetime | None = None
    run_id: str | None = None


@dataclass
class ChangeSet:
    """One class of change: how many items, and the first ids (tickets.id, ascending)."""

    count: int = 0
    ids: list[int] = field(default_factory=list)


_ADD_SQL = text(f"""
INSERT INTO sync_run_changes (run_id, change, count, ticket_ids) VALUES (:run, :change, :count, :ids)
ON CONFLICT (run_id, change) DO UPDATE SET count = sync_run_changes.count + EXCLUDED.count,
    ticket_ids = (sync_run_changes.ticket_ids || EXCLUDED.ticket_ids)[1:{IDS_PER_CLASS}]
""")  # noqa: S608 - a constant number  # nosec B608
# Open rows whose due time passed since the last run and that no page of this run wrote (a ticket nobody touched
# becomes overdue all the same); rows this run wrote were classified by their page already.
_OVERDUE_SWEEP_SQL = text("""
SELECT id FROM tickets
WHERE source = :source AND account = :account AND status_category IN ('open', 'pending', 'todo', 'in_progress')
  AND NOT is_deleted AND NOT is_spam AND due_by > :since AND due_by <= now() AND synced_at < :started
ORDER BY id
""")


def record_changes(run_id: str, changes: dict[str, ChangeSet]) -> None:
    """Add a page's classes to its run, in the caller's transaction (no commit)."""
    for name, found in changes.items():
        if found.count:
            db.session.execute(_ADD_SQL, {"run": run_id, "change": name, "count": found.count,
                                          "ids": found.ids[:IDS_PER_CLASS]})


def sweep_overdue(source: str, account: str, run_id: str, since: datetime | None, started: datetime) -> int:
    """Record the source's items that became overdue since the last run without any page carrying them."""
    if since is None:
        return 0
    try:
        ids = list(db.session.execute(_OVERDUE_SWEEP_SQL, {"source": source, "account": account, "since": since,
                                                           "started": started}).scalars())
        if ids:
            record_changes(run_id, {"newly_overdue": ChangeSet(len(ids), ids[:IDS_PER_CLASS])})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(ids)


def last_run_start(sync_type: str, before: str | None) -> datetime | None:
    """Return when the last completed run of a type (other than `before`) started; None when none completed."""
    stmt = select(SyncRun.started_at).where(SyncRun.type == sync_type, SyncRun.status == int(SyncStatus.COMPLETED),
                                            SyncRun.started_at.is_not(None))
    if before is not None:
        stmt = stmt.where(SyncRun.id != before)
    found = db.session.execute(stmt.order_by(SyncRun.started_at.desc()).limit(1)).scalar()
    db.session.commit()
    return found


def database_now() -> datetime:
    """Return the database's clock (synced_at is written by it)."""
    moment = db.session.execute(text("SELECT now()")).scalar_one()
    db.session.commit()
    return moment


def change_counts(run_id: str) -> dict[str, int]:
    """Return the run's count per class (every class, zero when none)."""
    rows = dict(db.session.execute(select(SyncRunChange.change, SyncRunChange.count)
                                   .where(SyncRunChange.run_id == run_id)).all())
    return {name: int(rows.get(name, 0)) for name in CHANGE_CLASSES}


def run_changes(run_id: str) -> list[dict[str, Any]]:
    """Return every class of a run, in headline order, with its count and the items kept (as ticket_json-like
    dicts: id, key, subject, source)."""
    rows = {row.change: row for row in db.session.scalars(select(SyncRunChange)
                                                          .where(SyncRunChange.run_id == run_id))}
    wanted = sorted({i for row in rows.values() for i in row.ticket_ids})
    items = {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(wanted)))} if wanted else {}
    out = []
    for name, label in CHANGE_CLASSES.items():
        row = rows.get(name)
        ids = list(row.ticket_ids) if row else []
        count = row.count if row else 0
        out.append({"change": name, "label": label, "count": count,
                    "items": [_item(items[i]) for i in ids if i in items], "truncated": count > len(ids)})
    return out


def _item(ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "key": ticket.reference, "source": ticket.source, "subject": ticket.subject,
            "status": ticket.status_label, "assignee": ticket.assignee}
