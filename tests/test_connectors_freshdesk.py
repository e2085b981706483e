"""Freshdesk specifics: updated_since always, updated_at order, the 300-page wall, filters, 403 bursts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tickettracker.connectors import ConfigurationError
from tickettracker.store.extensions import db

from . import simulator_fixtures as fx
from .simulator_fixtures import (
    Recorder,
    assert_matches_truth,
    cache_rows,
    make_settings,
    sync,
)

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def list_queries(vendor) -> list[dict[str, list[str]]]:
    """The query strings of every ticket-list request the vendor saw."""
    return [parse_qs(urlsplit(path).query) for _, path, _ in vendor.requests if path.startswith("/api/v2/tickets?")]


def test_every_list_call_sends_updated_since_and_sorts_by_updated_at(ctx, sim):
    sync(make_settings(ctx), "freshdesk")
    queries = list_queries(sim.vendor("freshdesk"))
    assert queries and all("updated_since" in q for q in queries)
    assert all(q["order_by"] == ["updated_at"] and q["order_type"] == ["asc"] for q in queries)
    assert {q.get("filter", ["-"])[0] for q in queries} == {"-", "deleted", "spam"}
    old = datetime.now(timezone.utc) - timedelta(days=31)
    assert any(row["created_at"] < old for row in cache_rows("freshdesk").values())


def test_the_first_sync_starts_in_2000_not_in_the_30_day_window(ctx, sim):
    sync(make_settings(ctx), "freshdesk")
    first = list_queries(sim.vendor("freshdesk"))[0]
    assert first["updated_since"] == ["2000-01-01T00:00:00Z"]


def test_deleted_and_spam_tickets_leave_the_open_list(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "freshdesk")
    vendor = sim.vendor("freshdesk")
    deleted = vendor.mutate(4, seed=1, kinds=("delete",))
    spam = vendor.mutate(3, seed=2, kinds=("spam",))
    outcome = sync(settings, "freshdesk")
    rows = cache_rows("freshdesk")
    assert all(rows[key]["is_deleted"] for key in deleted)
    assert all(rows[key]["is_spam"] for key in spam)
    assert outcome.counts.deleted == 7
    assert_matches_truth(sim, "freshdesk")


def test_archived_tickets_vanish_from_the_api_but_stay_cached_as_last_seen(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "freshdesk")
    vendor = sim.vendor("freshdesk")
    archived = set(vendor.mutate(3, seed=5, kinds=("archive",)))
    assert len(archived) == 3 and not archived & set(vendor.truth())
    before = {key: cache_rows("freshdesk")[key] for key in archived}
    vendor.mutate(5, seed=6, kinds=("update",))
    for full in (False, True):
        outcome = sync(settings, "freshdesk", full=full)
        assert outcome.status == "completed" and outcome.counts.deleted == 0
        rows = cache_rows("freshdesk")
        assert {key: rows[key] for key in archived} == before  # closed tickets Freshdesk archived: not deleted
        assert all(row["status_category"] in ("resolved", "closed") for row in before.values())
        live = {key for key, row in rows.items() if not row["is_deleted"] and not row["is_spam"]}
        assert live == set(vendor.truth()) | archived
    # the completeness audit confirmed them archived (GET /api/v2/tickets/archived/{id}) and counts without them now
    recorded = set(db.session.execute(text("SELECT external_id FROM archived_tickets")).scalars())
    db.session.commit()
    assert recorded == archived


def test_descriptions_custom_statuses_and_raw_codes_are_kept(ctx, sim):
    sync(make_settings(ctx), "freshdesk")
    rows = cache_rows("freshdesk").values()
    assert all(row["description_text"] for row in rows)
    labels = {row["status_code"]: row["status_label"] for row in rows}
    assert labels.get("6", "Waiting on Customer") == "Waiting on Customer"
    assert labels.get("12", "12") == "12"
    assert {row["status_category"] for row in rows} >= {"open", "pending", "resolved", "closed"}
    assert any(row["custom_fields"].get("cf_vip") is True for row in rows) or all(
        "cf_vip" in row["custom_fields"] for row in rows)


def test_a_single_403_is_retried_once_but_a_lasting_one_names_the_key(ctx, sim):
    settings = make_settings(ctx)
    vendor = sim.vendor("freshdesk")
    vendor.inject("403", count=1, path_contains="/api/v2/tickets?")
    assert sync(settings, "freshdesk").status == "completed"
    vendor.inject("403", count=2, path_contains="/api/v2/tickets?")
    with pytest.raises(ConfigurationError) as caught:
        sync(settings, "freshdesk")
    assert "(403)" in str(caught.value) and "FRESHDESK_API_KEY" in str(caught.value)


def test_a_sync_longer_than_the_page_wall_never_hits_it(ctx, sim):
    vendor = sim.vendor("freshdesk")
    vendor.page_cap = 4  # the real wall is 300 pages; a low one keeps the test fast and proves the same thing
    outcome = sync(make_settings(ctx, sync_page_size=5), "freshdesk")
    assert outcome.status == "completed"
    assert vendor.request_count(status=400) == 0
    assert vendor.request_count(path_contains="/api/v2/tickets?") > 4 * 3
    assert_matches_truth(sim, "freshdesk")


def expected_names(sim, raw):
    """(assignee, group_name) the simulator's agent and group directories give a raw freshdesk ticket."""
    factory = sim.vendor("freshdesk").store.factory
    agents = {person.id: person.name for person in factory.agents}
    responder, group = raw.get("responder_id"), raw.get("group_id")
    return (None if responder is None else agents[responder], None if group is None else factory.group_names[group])


def test_assignee_and_group_are_cached_as_names_from_the_directories(ctx, sim):
    assert sync(make_settings(ctx), "freshdesk").status == "completed"
    rows = list(cache_rows("freshdesk").values())
    assert any(row["assignee"] for row in rows) and any(row["group_name"] for row in rows)
    for row in rows:
        assert (row["assignee"], row["group_name"]) == expected_names(sim, row["raw"])
        assert row["raw"]["responder_id"] is None or isinstance(row["raw"]["responder_id"], int)  # raw untouched
    vendor = sim.vendor("freshdesk")
    assert vendor.request_count(path_contains="/api/v2/agents") == 1  # once per run, not per page
    assert vendor.request_count(path_contains="/api/v2/groups") == 1


def test_a_403_on_agents_keeps_the_sync_completed_with_responder_ids(ctx, sim):
    vendor = sim.vendor("freshdesk")
    vendor.inject("403", count=5, path_contains="/api/v2/agents")
    recorder = Recorder()
    assert sync(make_settings(ctx), "freshdesk", recorder).status == "completed"
    rows = list(cache_rows("freshdesk").values())
    assert any(row["raw"]["responder_id"] for row in rows)
    for row in rows:
        responder = row["raw"]["responder_id"]
        assert row["assignee"] == (None if responder is None else str(responder))
        assert row["group_name"] == expected_names(sim, row["raw"])[1]
    assert vendor.request_count(path_contains="/api/v2/agents") == 1
    assert any(level == "warning" and "/api/v2/agents" in message and "403" in message
               for level, message in recorder.logs), recorder.logs
    assert_matches_truth(sim, "freshdesk")
