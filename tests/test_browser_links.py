"""Links in headless Chromium against the real web server: the ticket page's "Waiting on development" with its link
to the Jira item, the Jira item's linked incidents, the tracker's "waiting on development" filter, the cockpit tile.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect, sync_playwright
from redis import Redis

from tests.factories import make_ticket
from tests.live import ADMIN, Processes, ensure_user, login
from tests.test_browser_pages import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tickettracker import create_app
from tickettracker.store.extensions import db
from tickettracker.store.models import TicketLink

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TABLES = "sync_logs, sync_runs, sync_schedules, tickets, users, audit_events, kpi_snapshots"


def _seed(app) -> dict[str, int]:
    """Two incidents waiting on ENG-7 (one via a mention, one via the issue's remote link), one done-linked, one
    mentioning a key outside the synced scope, and a plain one."""
    now = datetime.now(timezone.utc)
    with app.app_context():
        issue = make_ticket(1, source="jira", external_id="10007", external_key="ENG-7", kind="jira_issue",
                            subject="Gateway timeout", status_label="In Progress", status_category="in_progress",
                            assignee="Mia Krystof", project="ENG", updated_at=now - timedelta(days=2), due_by=None)
        done = make_ticket(2, source="jira", external_id="10008", external_key="ENG-8", kind="jira_issue",
                           subject="Old fix", status_label="Done", status_category="done", project="ENG")
        mention = make_ticket(10, subject="Checkout fails <b>now</b>", due_by=now - timedelta(hours=1),
                              priority_label="Urgent")
        pointed = make_ticket(11, source="freshservice", subject="Payments slow", due_by=now + timedelta(hours=3))
        finished = make_ticket(12, subject="Waiting on a done issue")
        outside = make_ticket(13, subject="Mentions ENG-999")
        plain = make_ticket(14, subject="Printer jam")
        db.session.add_all([issue, done, mention, pointed, finished, outside, plain])
        db.session.flush()
        db.session.add_all([
            TicketLink(ticket_id=mention.id, target_source="jira", target_ref="ENG-7", found_in="subject"),
            TicketLink(ticket_id=issue.id, target_source="freshservice", target_ref="11", found_in="remote_link"),
            TicketLink(ticket_id=finished.id, target_source="jira", target_ref="ENG-8", found_in="description"),
            TicketLink(ticket_id=outside.id, target_source="jira", target_ref="ENG-999", found_in="subject")])
        db.session.commit()
        ids = {"issue": issue.id, "mention": mention.id, "pointed": pointed.id, "outside": outside.id}
        db.session.remove()
    return ids


@pytest.fixture(scope="module")
def site(database_url, redis_url, tmp_path_factory):
    """A seeded cache, the web server and a browser for the module."""
    Redis.from_url(redis_url).flushdb()  # no rendered page or generation left by an earlier module
    folder = tmp_path_factory.mktemp("links")
    (folder / "logs").mkdir()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "links-" + "k" * 32,
           "INSTANCE_PATH": str(folder / "instance"), "SESSION_COOKIE_SECURE": "false", "JIRA_BASE_URL": "",
           "FRESHDESK_BASE_URL": "", "FRESHSERVICE_BASE_URL": "", "LOG_LEVEL": "warning"}
    app = create_app(env)
    procs = Processes(env, folder / "logs")
    try:
        ids = _seed(app)
        ensure_user(app, *ADMIN, "admin")
        base = procs.start_web()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield base, browser, ids
            finally:
                browser.close()
    finally:
        procs.stop_all()
        with app.app_context():
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            db.engine.dispose()


@pytest.fixture()
def page(site):
    base, browser, _ = site
    context = browser.new_context()
    tab = context.new_page()
    login(tab, base)
    yield tab
    context.close()


def test_ticket_page_says_what_it_waits_on_and_links_to_the_jira_item(site, page):
    base, _, ids = site
    page.goto(f"{base}/tickets/{ids['mention']}")
    waiting = page.locator("#waiting-on li")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("ENG-7 · In Progress · Mia Krystof · updated 2 d ago")
    expect(page.locator("[data-sla='due_by']")).to_contain_text("overdue by")
    page.screenshot(path=str(ARTIFACTS / "ticket-waiting-on-development.png"), full_page=True)
    page.click("#waiting-on a:has-text('ENG-7')")
    expect(page.locator("h1")).to_have_text("Gateway timeout")
    page.goto(f"{base}/tickets/{ids['pointed']}")  # found from the Jira side (remote link)
    expect(page.locator("#waiting-on")).to_contain_text("ENG-7")


def test_a_key_outside_the_synced_scope_is_shown_as_such(site, page):
    base, _, ids = site
    page.goto(f"{base}/tickets/{ids['outside']}")
    expect(page.locator("#waiting-on li")).to_contain_text("ENG-999 · outside the synced Jira scope (key only)")
    expect(page.locator("#waiting-on a")).to_have_count(0)


def test_jira_item_lists_its_linked_incidents_with_priority_status_and_due(site, page):
    base, _, ids = site
    page.goto(f"{base}/tickets/{ids['issue']}")
    rows = page.locator("#linked-incidents tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Checkout fails <b>now</b>")  # escaped vendor text, overdue first
    expect(rows.nth(0)).to_contain_text("Urgent")
    expect(rows.nth(0)).to_contain_text("overdue")
    expect(rows.nth(1)).to_contain_text("Payments slow")
    expect(rows.nth(1)).to_contain_text("Open")
    page.screenshot(path=str(ARTIFACTS / "jira-linked-incidents.png"), full_page=True)


def test_tracker_filter_waiting_on_development(site, page):
    base, _, _ = site
    page.goto(f"{base}/incidents")
    expect(page.locator("#ticket-rows tr:not(.more-row)")).to_have_count(5)
    page.check("#filter-waiting-dev")
    page.wait_for_url("**waiting_dev=1**")
    rows = page.locator("#ticket-rows tr:not(.more-row)")
    expect(rows).to_have_count(2)
    expect(page.locator("#ticket-rows")).to_contain_text("Checkout fails")
    expect(page.locator("#ticket-rows")).to_contain_text("Payments slow")


def test_cockpit_tile_counts_incidents_waiting_and_links_to_the_list(site, page):
    base, _, _ = site
    page.goto(f"{base}/")
    tile = page.locator("li.tile:has([data-kpi='waiting_dev'])")
    expect(tile.locator(".tile-value")).to_have_text("2")
    expect(tile.locator(".tile-hint")).to_contain_text("1 overdue")
    expect(tile).to_contain_text("Jira data")
    expect(page.locator("figure[data-chart='fw-waiting'] canvas")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "cockpit-waiting-on-development.png"), full_page=True)
    tile.locator("a.tile-link").click()
    page.wait_for_url("**/incidents?**waiting_dev=1**")
    expect(page.locator("#ticket-rows tr:not(.more-row)")).to_have_count(2)
