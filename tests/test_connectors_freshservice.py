"""Freshservice specifics: every workspace, no order_by, the watermark moves only after a whole round."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from tickettracker.connectors.mapping import parse_time

from . import simulator_fixtures as fx
from .simulator_fixtures import (
    Recorder,
    assert_matches_truth,
    cache_rows,
    cursor_rows,
    make_settings,
    sync,
)

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def list_queries(vendor) -> list[dict[str, list[str]]]:
    """The query strings of every ticket-list request the vendor saw."""
    return [parse_qs(urlsplit(path).query) for _, path, _ in vendor.requests if path.startswith("/api/v2/tickets?")]


def test_every_workspace_is_read_with_updated_since_and_without_order_by(ctx, sim):
    sync(make_settings(ctx), "freshservice")
    queries = list_queries(sim.vendor("freshservice"))
    assert {q["workspace_id"][0] for q in queries} == {"2", "3", "4"}
    assert all("updated_since" in q and "order_by" not in q for q in queries)
    assert {row["workspace"] for row in cache_rows("freshservice").values()} == {"2", "3", "4"}
    assert_matches_truth(sim, "freshservice")


def test_workspaces_are_discovered_when_not_configured(ctx, sim):
    settings = make_settings(ctx)
    settings = replace(settings, vendors=replace(settings.vendors, freshservice_workspaces=()))
    sync(settings, "freshservice")
    assert sim.vendor("freshservice").request_count(path_contains="/api/v2/workspaces") == 1
    assert_matches_truth(sim, "freshservice")


def test_bookmarks_move_only_when_a_workspace_round_is_complete(ctx, sim):
    recorder = Recorder(snapshot_cursors=True)
    sync(make_settings(ctx), "freshservice", recorder)
    states = [rows[0][2] for rows in recorder.cursors if rows and "round" in rows[0][2]]  # after the binding
    mid_round = [state for state in states if any(key.startswith("2:") for key in state["round"])]
    assert mid_round and all(not any(k.startswith("2:") for k in s["bookmarks"]) for s in mid_round)
    final = states[-1]
    assert final["round"] == {}
    assert {key.split(":")[0] for key in final["bookmarks"]} == {"2", "3", "4"}


def test_tickets_leaving_the_list_mid_pass_hold_the_bookmark_back_until_a_clean_run(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "freshservice")
    before = cursor_rows()[0][2]["bookmarks"]
    vendor = sim.vendor("freshservice")
    vendor.mutate_after_requests(2, 6, kinds=("delete", "spam"), seed=9)
    vendor.mutate(3, seed=8, kinds=("update",))
    sync(settings, "freshservice")
    held = cursor_rows()[0][2]["bookmarks"]
    assert held["2:open"] == before["2:open"]
    sync(settings, "freshservice")
    assert_matches_truth(sim, "freshservice")


def test_codes_map_to_labels_and_unknown_ones_stay_raw(ctx, sim):
    sync(make_settings(ctx), "freshservice")
    rows = list(cache_rows("freshservice").values())
    labels = {row["status_code"]: row["status_label"] for row in rows}
    assert labels.get("2") == "Open" and labels.get("5") == "Closed"
    assert labels.get("6", "Awaiting vendor") == "Awaiting vendor"
    assert labels.get("13", "13") == "13"
    assert {row["kind"] for row in rows} == {"incident", "service_request"}
    assert all(row["requester"] and not row["requester"].isdigit() for row in rows)
    assert all(row["created_at"].tzinfo is not None for row in rows)


def expected_names(sim, raw):
    """(assignee, group_name) the simulator's agent and group directories give a raw freshservice ticket."""
    factory = sim.vendor("freshservice").store.factory
    agents = {person.id: person.name for person in factory.agents}
    responder, group = raw.get("responder_id"), raw.get("group_id")
    return (None if responder is None else agents[responder], None if group is None else factory.group_names[group])


def test_assignee_and_group_are_cached_as_names_from_the_directories(ctx, sim):
    assert sync(make_settings(ctx), "freshservice").status == "completed"
    rows = list(cache_rows("freshservice").values())
    assert any(row["assignee"] for row in rows) and any(row["group_name"] for row in rows)
    for row in rows:
        assert (row["assignee"], row["group_name"]) == expected_names(sim, row["raw"])
        assert row["raw"]["responder_id"] is None or isinstance(row["raw"]["responder_id"], int)  # raw untouched
    vendor = sim.vendor("freshservice")
    assert vendor.request_count(path_contains="/api/v2/agents") == 1  # once per run, not per page
    assert vendor.request_count(path_contains="/api/v2/groups") == 1


def test_a_403_on_agents_keeps_the_sync_completed_with_responder_ids(ctx, sim):
    vendor = sim.vendor("freshservice")
    vendor.inject("403", count=5, path_contains="/api/v2/agents")
    recorder = Recorder()
    assert sync(make_settings(ctx), "freshservice", recorder).status == "completed"
    rows = list(cache_rows("freshservice").values())
    assert any(row["raw"]["responder_id"] for row in rows)
    for row in rows:
        responder = row["raw"]["responder_id"]
        assert row["assignee"] == (None if responder is None else str(responder))
        assert row["group_name"] == expected_names(sim, row["raw"])[1]
    assert vendor.request_count(path_contains="/api/v2/agents") == 1
    assert any(level == "warning" and "/api/v2/agents" in message and "403" in message
               for level, message in recorder.logs), recorder.logs
    assert_matches_truth(sim, "freshservice")


def spam_during_every_open_pass(vendor, workspace: int = 2, per_run: int = 2) -> list[str]:
    """Mark tickets of a workspace as spam when its open pass asks for the second page, in every run: after the
    first page was read and before the pass ends, whatever the clock's second boundaries. Returns the victims."""
    original = vendor.list_tickets
    marked: list[str] = []

    def list_tickets(request):
        args = request.args
        if args.get("workspace_id") == str(workspace) and "filter" not in args and args.get("page") == "2":
            victims = [item.ext_id for item in vendor.store.items.values()
                       if item.state == "live" and item.group == workspace][:per_run]
            for ext_id in victims:
                vendor.store.set_state(ext_id, "spam")
            marked.extend(victims)
        return original(request)

    vendor.list_tickets = list_tickets
    return marked


def edit_some(vendor, workspace: int, subject: str, count: int = 2) -> datetime:
    """Agents edit a few tickets of the workspace now; returns their new updated_at."""
    with vendor.store.lock:
        items = [i for i in vendor.store.items.values() if i.state == "live" and i.group == workspace][:count]
        moment = vendor.store.factory.now()
        for item in items:
            item.body = {**item.body, "subject": subject}
            item.updated = moment
    return moment


def test_spam_arriving_every_run_holds_the_open_bookmark_back_one_round_at_most(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "freshservice")
    before = cursor_rows()[0][2]["bookmarks"]["2:open"]
    vendor = sim.vendor("freshservice")
    assert vendor.switches()["silent_deletes"]  # spam leaves updated_at where the edit put it
    spammed = spam_during_every_open_pass(vendor)
    one_per_page = make_settings(ctx, sync_page_size=1)  # two edited tickets: every open pass has a second page
    marks, edits = [], []
    for run in range(4):
        edits.append(edit_some(vendor, workspace=2, subject=f"Edited before run {run}"))
        time.sleep(1.1)  # the pass starts seconds after the edits: only the ids tell which tickets left mid-pass
        sync(one_per_page, "freshservice")
        marks.append(parse_time(cursor_rows()[0][2]["bookmarks"]["2:open"]))
    assert len(set(spammed)) == 8  # two tickets left the open list during each of the four open passes
    assert marks[0] == parse_time(before), (before, marks)  # the first round is held back where it was
    for run in (1, 2, 3):  # then one round behind at most: where the previous round's pass would have moved it
        assert edits[run - 1] <= marks[run] < edits[run], (edits, marks)
    vendor.list_tickets = type(vendor).list_tickets.__get__(vendor)
    sync(settings, "freshservice")
    assert_matches_truth(sim, "freshservice")
