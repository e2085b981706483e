"""Cursors bound to the vendor account and the scope they were read with.

A cursor says where a source stopped reading, so it only holds for the account (the vendor address) and the scope
(Freshservice workspaces, Jira projects and JQL) it was read with. Every sync compares the source's scope with the
one bound to its cursor; a change starts a new cursor (everything in scope is read again) and says so in the run
log. Rows carry the account they were read from, so equal ids of another account never overwrite them: when the
account changes, the previous account's rows leave the live lists (hidden as 'other_account', never counted as
deleted) and come back if the source is pointed at that account again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import text

from tickettracker.store.extensions import db
from tickettracker.sync.ingest import fenced_write, load_cursor

CLAIM_SQL = text("UPDATE tickets SET account = :a WHERE source = :s AND account = ''")
HIDE_OTHERS_SQL = text("UPDATE tickets SET is_deleted = true, hidden_reason = 'other_account', synced_at = now() "
                       "WHERE source = :s AND account <> :a AND NOT is_deleted")
RESET_CURSOR_SQL = text("""
INSERT INTO sync_cursors (source, watermark, advanced_at, state) VALUES (:s, :w, now(), CAST(:state AS jsonb))
ON CONFLICT (source) DO UPDATE SET watermark = EXCLUDED.watermark, advanced_at = now(), state = EXCLUDED.state
""")
NAMES = {"address": "address", "workspaces": "workspace list", "projects": "project list", "jql": "JQL filter"}


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def binding_of(scope: dict[str, Any]) -> dict[str, Any]:
    """What a cursor records about its scope: the scope itself, the account tag of its rows, a fingerprint."""
    return {**scope, "account": fingerprint(scope["address"]), "scope": fingerprint(scope)}


def bind(source: str, label: str, scope: dict[str, Any], watermark: datetime | None, state: dict[str, Any],
         log: Callable[[str, str], None], warn: Callable[[str], None],
         run_id: str | None = None) -> tuple[datetime | None, dict[str, Any], str]:
    """Return the (watermark, state) to sync from and the account tag of the rows, rebinding when needed."""
    wanted = binding_of(scope)
    bound = state.get("bound")
    if isinstance(bound, dict) and bound.get("scope") == wanted["scope"]:
        return watermark, state, wanted["account"]
    if not isinstance(bound, dict):
        state = {**state, "bound": wanted}
        claimed = _store(source, wanted["account"], watermark, state, run_id, claim=True)
        log("info", f"{label}: cursor bound to {_describe(wanted)}"
                    + (f"; {claimed} cached items recorded as read from it" if claimed else ""))
        return watermark, state, wanted["account"]
    state = {"bound": wanted}
    moved = bound.get("account") != wanted["account"]
    hidden = _store(source, wanted["account"], None, state, run_id, hide_others=moved)
    warn(f"{label}: {_changes(bound, wanted)}: starting a new cursor, so everything in scope is read "
                   "again" + (f"; {hidden} items of the previous account leave the lists (kept, marked as read from "
                              "another account)" if moved else ""))
    return None, state, wanted["account"]


def account_for(source: str, scope: dict[str, Any]) -> str | None:
    """The account tag a targeted write (not a full sync) of a source uses: the one its cursor is bound to, '' for
    rows cached before cursors were bound, or None when the source now points at another address (only a full
    sync, which rebinds the cursor, may write that account's rows)."""
    _, state = load_cursor(source)
    bound = state.get("bound")
    if not isinstance(bound, dict):
        return ""
    return bound["account"] if bound.get("account") == fingerprint(scope["address"]) else None


def _store(source: str, account: str, watermark: datetime | None, state: dict[str, Any], run_id: str | None, *,
           claim: bool = False, hide_others: bool = False) -> int:
    """Claim unowned rows or hide other accounts' rows, and store the cursor, in one fenced transaction."""
    with fenced_write(source, run_id) as changed:
        if claim:
            changed.rows = db.session.execute(CLAIM_SQL, {"s": source, "a": account}).rowcount
        if hide_others:
            changed.rows = db.session.execute(HIDE_OTHERS_SQL, {"s": source, "a": account}).rowcount
        db.session.execute(RESET_CURSOR_SQL, {"s": source, "w": watermark, "state": json.dumps(state)})
    return changed.rows


def _describe(binding: dict[str, Any]) -> str:
    """The address and scope of a binding, in words."""
    parts = [binding["address"]]
    parts += [f"{NAMES[key]} {_value(binding[key])}" for key in ("workspaces", "projects", "jql") if key in binding]
    return ", ".join(parts)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two bindings, in words."""
    changed = [f"the {NAMES[key]} changed from {_value(old.get(key))} to {_value(new.get(key))}"
               for key in NAMES if old.get(key) != new.get(key)]
    return "; ".join(changed) or "the scope changed"


def _value(value: Any) -> str:
    """A scope value for a log line."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "(all)"
    return str(value) if value else "(none)"
