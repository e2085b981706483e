"""Forged cursors, out-of-range ids and malformed parameters answer 400 (or 404), never 500; a failed statement
never poisons the rest of the request."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from sqlalchemy import text

from tests.live import signed_in_client
from tickettracker.store.extensions import db


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


FORGED = [_cursor({"v": "x", "id": 1}), _cursor({"v": "x"}), _cursor({"v": {"a": 1}, "id": 1}),
          _cursor({"v": 1, "id": 10**30}), _cursor({"t": "2026-01-01T00:00:00", "id": {"x": 1}}),
          _cursor([1, 2]), _cursor({"t": 5, "id": 1}), _cursor({"v": [1], "id": 1}), _cursor({"v": 10**30, "id": 1}),
          _cursor({"v": True, "id": True}), "%%%", "A" * 5000, _cursor({"t": "2026-01-01T00:00:00+00:00", "id": -1})]


@pytest.mark.parametrize("sort", ["priority", "updated", "due"])
def test_a_forged_ticket_cursor_is_a_400_page_and_json(client, sort):
    for cursor in FORGED:
        where = f"{sort} {cursor[:40]}"
        page = client.get("/incidents", query_string={"sort": sort, "cursor": cursor})
        assert page.status_code == 400 and "Traceback" not in page.get_data(as_text=True), where
        api = client.get("/api/tickets", query_string={"sort": sort, "cursor": cursor})
        assert api.status_code == 400 and "cursor" in api.get_json()["error"], where


def test_a_forged_history_cursor_is_a_400(client):
    for cursor in FORGED + [_cursor({"t": "2026-01-01T00:00:00+00:00", "id": 5})]:
        assert client.get("/api/sync/history", query_string={"cursor": cursor}).status_code == 400, cursor[:40]
        assert client.get("/sync", query_string={"cursor": cursor}).status_code == 400, cursor[:40]


def test_huge_ids_in_paths_are_not_found(client):
    for path in ("/tickets/" + "9" * 30, "/api/sync/jobs/" + "9" * 30, "/sync/runs/" + "x" * 3000):
        assert client.get(path).status_code in (400, 404), path
    assert client.post("/admin/users/" + "9" * 30, data={"role": "viewer"}).status_code == 404
    assert client.post("/account/tokens/" + "9" * 30 + "/revoke").status_code == 404


def test_audit_parameters_are_validated(client):
    assert client.get("/api/audit", query_string={"before": str(10**30)}).status_code == 400
    for query in ({"before": "-5"}, {"limit": str(10**30)}, {"limit": "1e3"}, {"action": "x\x00y"}):
        assert client.get("/api/audit", query_string=query).status_code in (200, 400), query


def test_nul_characters_in_filters_are_a_400(client):
    for name in ("q", "status", "assignee", "group", "project"):
        for path in ("/incidents", "/api/tickets", "/development", "/"):
            response = client.get(path, query_string={name: "a\x00b"})
            assert response.status_code == 400, f"{path} {name}"
            assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_a_form_is_a_400_and_changes_nothing(app, client):
    response = client.post("/sync/schedules/JIRA", data={"interval_minutes": "30\x00", "enabled": "1"})
    assert response.status_code == 400


def test_a_failed_statement_does_not_poison_the_rest_of_the_request(app_config, app, caplog):
    from tickettracker import create_app

    broken = create_app(app_config)

    def fail() -> str:
        db.session.execute(text("SELECT 1 / 0"))
        return "unreachable"

    broken.add_url_rule("/sql-boom", "sql_boom", fail)
    admin = signed_in_client(broken, "admin", "admin")
    with caplog.at_level(logging.WARNING):
        page = admin.get("/sql-boom")
    body = page.get_data(as_text=True)
    assert page.status_code == 500 and "Traceback" not in body
    assert "Sync status is unavailable" not in body  # the error page's own queries still work
    assert "current transaction is aborted" not in caplog.text
    assert admin.get("/incidents").status_code == 200


def test_a_nul_in_a_path_is_a_400(client):
    for path in ("/api/sync/jobs/%00", "/sync/runs/a%00b", "/api/sync/jobs/x%00/log"):
        response = client.get(path)
        assert response.status_code == 400 and "Traceback" not in response.get_data(as_text=True), path
