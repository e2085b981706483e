"""Data migrations, run against a scratch database taken to the revision before them."""

from __future__ import annotations

import json
from typing import Any, Iterator

import psycopg
import pytest
from flask_migrate import downgrade, upgrade

from .conftest import drop_database, scratch_database


@pytest.fixture()
def scratch(pg_admin_url: str) -> Iterator[tuple[Any, str]]:
    """An empty database and an app pointed at it (nothing migrated yet); dropped afterwards."""
    url, app = scratch_database(pg_admin_url, "tt_mig")
    yield app, url.replace("postgresql+psycopg://", "postgresql://", 1)
    drop_database(pg_admin_url, url, app)


def _issue(conn: psycopg.Connection, key: str, issue_id: str | None, updated: str, **extra: Any) -> None:
    raw = {"key": key, "fields": {"summary": key}} | ({"id": issue_id} if issue_id else {})
    conn.execute("INSERT INTO tickets (source, external_id, kind, subject, status_category, is_escalated, tags, "
                 "custom_fields, raw, is_deleted, is_spam, updated_at) VALUES ('jira', %s, 'jira_issue', %s, 'todo', "
                 "false, '{}', '{}', %s, %s, false, %s)",
                 (key, key, json.dumps(raw), extra.get("deleted", False), updated))


def test_jira_rows_become_keyed_by_issue_id_and_a_moved_duplicate_keeps_its_newest_copy(scratch):
    app, conninfo = scratch
    with app.app_context():
        upgrade(revision="0007_ticket_links")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _issue(conn, "OPS-1", "10001", "2026-01-01T00:00:00Z")
        _issue(conn, "OPS-2", "10002", "2026-01-01T00:00:00Z", deleted=True)  # the old key of a moved issue
        _issue(conn, "ENG-7", "10002", "2026-01-02T00:00:00Z")  # the same issue under its new key
        _issue(conn, "SEC-9", None, "2026-01-01T00:00:00Z")  # no id stored: kept, named by its key
        conn.execute("INSERT INTO tickets (source, external_id, kind, subject, status_category, is_escalated, tags, "
                     "custom_fields, raw, is_deleted, is_spam) VALUES ('freshdesk', '42', 'incident', 's', 'open', "
                     "false, '{}', '{}', '{\"id\": 42}', false, false)")
    with app.app_context():
        upgrade(revision="0008_jira_issue_ids")
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT source, external_id, external_key, is_deleted FROM tickets "
                            "ORDER BY source, external_id").fetchall()
    assert rows == [("freshdesk", "42", None, False), ("jira", "10001", "OPS-1", False),
                    ("jira", "10002", "ENG-7", False), ("jira", "SEC-9", "SEC-9", False)]
    with app.app_context():
        downgrade(revision="0007_ticket_links")
    with psycopg.connect(conninfo) as conn:
        keys = conn.execute("SELECT external_id FROM tickets WHERE source = 'jira' ORDER BY 1").fetchall()
    assert keys == [("ENG-7",), ("OPS-1",), ("SEC-9",)]
