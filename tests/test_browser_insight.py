"""Sync insight in headless Chromium against the real stack: the change headline in the toast, the change lists on
the run page, the "started by" line and the join message a second user gets."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests import test_browser_sync as browser_sync
from tests.live import TEST_PASSWORD, ensure_user, login
from tests.test_browser_sync import Stack, shot, state
from tickettracker.core.changes import NO_CHANGES
from tickettracker.store.extensions import db

pytestmark = [pytest.mark.slow, pytest.mark.browser]

stack, live = browser_sync.stack, browser_sync.live  # the sync browser tests' stack, started for this module too
PICK = ("SELECT external_id FROM tickets WHERE source = 'freshdesk' AND status_category = 'open' AND NOT is_deleted "
        "AND {} ORDER BY id LIMIT 1")
CHANGE = "UPDATE tickets SET {} WHERE source = 'freshdesk' AND external_id = :id"


def _tamper(live: Stack, where: str, change: str) -> str:
    """Change one cached open Freshdesk ticket matching `where` behind the sync's back; return its id."""
    with live.app.app_context():
        try:
            ticket_id = db.session.execute(text(PICK.format(where))).scalar_one()
            db.session.execute(text(CHANGE.format(change)), {"id": ticket_id})
            db.session.commit()
            return ticket_id
        finally:
            db.session.remove()


def test_the_toast_names_what_changed_and_the_run_page_lists_it(live):
    page = live.open(live.context(), "/incidents")
    page.click("#sync-btn-Incidents")
    first = page.locator(".toast-success", has_text="Incidents sync completed")
    expect(first).to_be_visible(timeout=30000)
    expect(first.locator(".toast-headline")).to_have_text(NO_CHANGES)  # the first run only finds new items
    urgent = _tamper(live, "priority_code = 4", "priority_code = 1, priority_label = 'Low'")
    reopened = _tamper(live, "priority_code < 4", "status_category = 'closed', status_label = 'Closed'")
    for ticket_id in (urgent, reopened):
        live.sim.vendor("freshdesk").edit(ticket_id, subject=f"Edited {ticket_id}")
    page.locator(".toast-close").first.click()
    page.click("#sync-btn-Incidents")
    toast = page.locator(".toast-success", has=page.locator(".toast-headline", has_text="new urgent"))
    expect(toast).to_be_visible(timeout=30000)
    # the reopened ticket may be past its due time as well: then it is newly overdue too (it was closed before)
    headline = re.compile(r"^1 new urgent( · 1 newly overdue)? · 1 reopened$")
    expect(toast.locator(".toast-headline")).to_have_text(headline)
    shot(page, "insight-01-toast-headline")
    toast.get_by_role("link", name="What changed").click()
    page.wait_for_url("**/sync/runs/*")
    expect(page.locator("#change-new_urgent .change-items a")).to_have_text([urgent])
    expect(page.locator("#change-reopened .change-items a")).to_have_text([reopened])
    expect(page.locator("#change-reassigned")).to_contain_text("None.")
    shot(page, "insight-02-run-changes")
    page.locator("#change-reopened .change-items a").click()
    page.wait_for_url("**/tickets/*")
    expect(page.locator("h1")).to_contain_text(f"Edited {reopened}")


def test_a_second_user_sees_who_started_the_sync_and_joins_it(live):
    ensure_user(live.app, "alice", TEST_PASSWORD, "admin")
    live.slow(300, "freshservice", "freshdesk")
    alice_context = live.browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live.base)
    login(alice_context.new_page(), live.base, "alice", TEST_PASSWORD)
    bob = live.open(live.context(), "/incidents")  # loaded before the sync: its empty list still offers Sync
    alice = live.open(alice_context, "/incidents")
    alice.click("#sync-btn-Incidents")
    line = state(bob, "Incidents").locator(".sync-by")
    expect(line).to_contain_text("Incidents sync started by alice")
    expect(line.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    shot(bob, "insight-03-started-by")
    bob.locator(".state-empty .sync-btn").click()
    joined = bob.locator(".toast", has_text="alice's sync is already running — you will see its result")
    expect(joined).to_be_visible(timeout=10000)
    shot(bob, "insight-04-join-message")
    expect(bob.locator(".toast-success", has_text="Incidents sync completed")).to_be_visible(timeout=90000)
    expect(alice.locator(".toast-success", has_text="Incidents sync completed")).to_be_visible(timeout=10000)
    alice_context.close()
