"""Cursors are bound to the vendor account and scope they were read with; accounts never overwrite each other."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

from tickettracker.store.extensions import db
from tickettracker.sync.atrisk import refresh_at_risk
from vendorsim import VendorSimulator
from vendorsim.timeutil import fw_format

from . import simulator_fixtures as fx
from .simulator_fixtures import (
    Recorder,
    assert_matches_truth,
    cache_rows,
    cursor_rows,
    make_settings,
    stop_quickly,
    sync,
)

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module


def pointed_at(settings: Any, other: VendorSimulator) -> Any:
    """Settings whose Freshdesk is the other simulator's (another account with the same ticket ids)."""
    vendors = replace(settings.vendors, freshdesk_url=other.base_urls["freshdesk"],
                      freshdesk_api_key=other.credentials["freshdesk"]["api_key"])
    return replace(settings, vendors=vendors)


def rows_by_account() -> dict[str, dict[str, dict[str, Any]]]:
    """Every Freshdesk row, grouped by account, by external id."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for row in db.session.execute(text("SELECT * FROM tickets WHERE source = 'freshdesk'")).mappings():
        found.setdefault(row["account"], {})[row["external_id"]] = dict(row)
    db.session.commit()
    return found


def test_pointing_freshdesk_at_another_account_starts_over_and_never_overwrites_the_old_rows(ctx, sim):
    staging_settings = make_settings(ctx)
    sync(staging_settings, "freshdesk")
    staging = next(iter(rows_by_account().values()))
    production = VendorSimulator(seed=31, sizes={"freshservice": 5, "freshdesk": 40, "jira": 5},
                                 timeout_sleep=1.0).start()
    try:
        recorder = Recorder()
        outcome = sync(pointed_at(staging_settings, production), "freshdesk", recorder)
        said = [m for level, m in recorder.logs if level == "warning" and "starting a new cursor" in m]
        assert len(said) == 1 and production.base_urls["freshdesk"] in said[0] and "address changed" in said[0]
        assert f"{len(staging)} items of the previous account leave the lists" in said[0]
        assert "1 warning" in outcome.message
        assert_matches_truth(production, "freshdesk")  # every production ticket, old ones included
        accounts = rows_by_account()
        assert len(accounts) == 2
        old = next(rows for rows in accounts.values() if rows.keys() == staging.keys() and
                   all(r["hidden_reason"] == "other_account" for r in rows.values()))
        assert {k: r["raw"] for k, r in old.items()} == {k: r["raw"] for k, r in staging.items()}  # not overwritten
        assert set(old) & set(cache_rows("freshdesk"))  # equal ids, separate rows
        back = sync(staging_settings, "freshdesk")
        assert back.counts.deleted == 0
        assert_matches_truth(sim, "freshdesk")
        assert all(r["hidden_reason"] == "other_account" for acc, rows in rows_by_account().items()
                   for r in rows.values() if rows.keys() != staging.keys())
    finally:
        stop_quickly(production)


def test_a_changed_jql_starts_a_new_jira_cursor_and_says_so(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "jira")
    first = cursor_rows()[0]
    narrowed = replace(settings, vendors=replace(settings.vendors, jira_jql="labels is EMPTY"))
    recorder = Recorder()
    outcome = sync(narrowed, "jira", recorder)
    assert any("the JQL filter changed from (none) to labels is EMPTY: starting a new cursor" in m
               for level, m in recorder.logs if level == "warning")
    unlabelled = [item for item in sim.vendor("jira").truth().values() if not item["fields"]["labels"]]
    assert outcome.counts.fetched >= len(unlabelled) > 5  # read again from the beginning, not from the old cursor
    assert cursor_rows()[0][2]["bound"]["jql"] == "labels is EMPTY"
    assert cursor_rows()[0][2]["bound"]["account"] == first[2]["bound"]["account"]
    assert not any(r["hidden_reason"] == "other_account" for r in cache_rows("jira").values())
    again = Recorder()
    sync(narrowed, "jira", again)
    assert not any("new cursor" in m for _, m in again.logs)


def test_a_cursor_from_before_accounts_adopts_the_cached_rows_without_reading_again(ctx, sim):
    settings = make_settings(ctx)
    sync(settings, "freshdesk")
    count = len(cache_rows("freshdesk"))
    db.session.execute(text("UPDATE tickets SET account = ''"))
    db.session.execute(text("UPDATE sync_cursors SET state = state - 'bound'"))
    db.session.commit()
    recorder = Recorder()
    outcome = sync(settings, "freshdesk", recorder)
    assert any(f"cursor bound to {sim.base_urls['freshdesk']}; {count} cached items" in m for _, m in recorder.logs)
    assert outcome.counts.created == 0 and outcome.counts.fetched < count
    assert db.session.execute(text("SELECT count(*) FROM tickets WHERE account = ''")).scalar() == 0
    assert len(cache_rows("freshdesk")) == count


def test_the_at_risk_refresh_writes_as_the_bound_account_and_leaves_a_switched_source_to_the_full_sync(ctx, sim):
    settings = make_settings(ctx, sla_horizon_minutes=240)
    due = fw_format(datetime.now(timezone.utc) + timedelta(hours=1))
    sim.vendor("freshdesk").edit("5", status=2, due_by=due)
    sync(settings, "freshdesk")
    sim.vendor("freshdesk").edit("5", subject="Checkout down for everyone")
    assert refresh_at_risk(settings, Recorder()).status == "completed"
    accounts = rows_by_account()
    assert len(accounts) == 1 and next(iter(accounts.values()))["5"]["subject"] == "Checkout down for everyone"
    production = VendorSimulator(seed=31, sizes={"freshservice": 5, "freshdesk": 40, "jira": 5},
                                 timeout_sleep=1.0).start()
    try:
        recorder = Recorder()
        refresh_at_risk(pointed_at(settings, production), recorder)
        assert any("Freshdesk part skipped: its address changed" in m for _, m in recorder.logs)
        assert rows_by_account() == accounts and production.vendor("freshdesk").request_count("/tickets/") == 0
    finally:
        stop_quickly(production)
