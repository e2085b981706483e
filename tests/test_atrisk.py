"""The at-risk refresh against the simulator: by id, linked Jira issues batched, leaving the set, the type locks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from tickettracker.store.extensions import db
from tickettracker.sync.atrisk import refresh_at_risk
from tickettracker.sync.atrisk_set import helpdesk_targets
from tickettracker.sync.typelock import type_lock
from vendorsim.timeutil import fw_format

from . import simulator_fixtures as fx
from .simulator_fixtures import Recorder, cache_rows, jira_row, make_settings, sync

app_config, ctx, sim = fx.app_config, fx.ctx, fx.sim  # fixtures used by this module
HORIZON = timedelta(hours=4)


def _due_soon(sim, source: str, ticket_id: str, hours: float = 1.0, jira_key: str | None = None) -> None:
    """Make a ticket open and due within the horizon at the vendor (optionally mentioning a Jira key)."""
    changes = {"status": 2, "due_by": fw_format(datetime.now(timezone.utc) + timedelta(hours=hours))}
    if jira_key:
        changes["subject"] = f"Payments down, waiting on {jira_key}"
    sim.vendor(source).edit(ticket_id, **changes)


def _synced(ctx, sim):
    settings = make_settings(ctx, sla_horizon_minutes=240)
    for source in ("jira", "freshservice", "freshdesk"):
        sync(settings, source)
    return settings


def test_at_risk_set_is_open_tickets_due_within_the_horizon_either_side_of_now(ctx, sim):
    key = sorted(sim.vendor("jira").truth())[0]
    _due_soon(sim, "freshdesk", "5", 1.0, key)
    _due_soon(sim, "freshservice", "6", -1.0)  # breached an hour ago: stays in the set until it is settled
    settings = _synced(ctx, sim)
    now = datetime.now(timezone.utc)
    targets = {(source, ext) for _, source, ext in helpdesk_targets(now, HORIZON, 500)}
    assert {("freshdesk", "5"), ("freshservice", "6")} <= targets
    for source, ext in targets:
        row = cache_rows(source)[ext]
        due = [d for d in (row["due_by"], row["fr_due_by"] if row["first_responded_at"] is None else None) if d]
        assert row["status_category"] in ("open", "pending") and any(abs(d - now) <= HORIZON for d in due)
    assert settings.sla_refresh_max_items >= len(targets)


def test_refresh_reads_changed_at_risk_tickets_and_their_jira_issues_and_drops_closed_and_deleted(ctx, sim):
    jira = sim.vendor("jira")
    key = sorted(jira.truth())[0]
    _due_soon(sim, "freshdesk", "5", 1.0, key)
    _due_soon(sim, "freshdesk", "7", 2.0)
    _due_soon(sim, "freshservice", "6", 0.5)
    settings = _synced(ctx, sim)
    sim.vendor("freshdesk").edit("5", priority=4, subject=f"Payments down for everyone, waiting on {key}")
    sim.vendor("freshdesk").edit("7", status=5)  # closed at the vendor
    sim.vendor("freshservice").store.set_state("6", "deleted")
    jira.edit(key, summary="Fix the payment gateway timeout")
    for name in ("freshservice", "freshdesk", "jira"):
        sim.vendor(name).reset_counts()
    outcome = refresh_at_risk(settings, Recorder())
    assert outcome.status == "completed", outcome.message
    fd = cache_rows("freshdesk")
    assert fd["5"]["priority_code"] == 4 and "everyone" in fd["5"]["subject"]
    assert fd["7"]["status_category"] == "closed"
    assert cache_rows("freshservice")["6"]["is_deleted"]
    assert jira_row(key)["subject"] == "Fix the payment gateway timeout"
    assert jira.request_count("/search/jql") == 1  # one batch for every linked issue
    assert sim.vendor("freshdesk").request_count("/api/v2/tickets/5") == 1
    now = datetime.now(timezone.utc)
    left = {(s, e) for _, s, e in helpdesk_targets(now, HORIZON, 500)}
    assert ("freshdesk", "7") not in left and ("freshservice", "6") not in left and ("freshdesk", "5") in left


def test_refresh_skips_a_part_while_a_full_run_of_its_type_holds_the_lock(ctx, sim):
    _due_soon(sim, "freshdesk", "5", 1.0)
    settings = _synced(ctx, sim)
    sim.vendor("freshdesk").edit("5", priority=1)
    sim.vendor("freshdesk").reset_counts()
    recorder = Recorder()
    with type_lock("Incidents") as held:
        assert held
        outcome = refresh_at_risk(settings, recorder)
    assert "Incidents" in outcome.message and sim.vendor("freshdesk").request_count() == 0
    assert any("full Incidents sync" in message for _, message in recorder.logs)
    assert refresh_at_risk(settings, Recorder()).status == "completed"
    assert cache_rows("freshdesk")["5"]["priority_code"] == 1


def test_a_jira_issue_deleted_at_the_vendor_is_flagged_by_the_refresh(ctx, sim):
    jira = sim.vendor("jira")
    keys = sorted(jira.truth())[:3]
    _due_soon(sim, "freshdesk", "5", 1.0, " and ".join(keys))
    settings = _synced(ctx, sim)
    jira.store.set_state(keys[1], "gone")
    outcome = refresh_at_risk(replace(settings), Recorder())
    assert outcome.status == "completed"
    assert jira_row(keys[1])["is_deleted"] and not jira_row(keys[0])["is_deleted"]
    count = db.session.execute(text("SELECT count(*) FROM ticket_links")).scalar()
    db.session.commit()
    assert count > 0
