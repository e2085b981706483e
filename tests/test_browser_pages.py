"""Tracker pages, schedules form and ticket page in headless Chromium against the real web server (no sync needed).

Filters, search, sort and keyset paging swap only the table; the URL keeps the state and Back restores it; loading,
empty and error states; keyboard use and the dark theme. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright
from redis import Redis

from tests.factories import add_tickets
from tests.live import ADMIN, Processes, ensure_user, login
from tickettracker import create_app
from tickettracker.store.extensions import db

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TABLES = "sync_logs, sync_runs, sync_schedules, tickets, users, audit_events"


def _seed(app) -> None:
    with app.app_context():
        add_tickets(120, url="https://acme.freshdesk.com/a/tickets/1")
        add_tickets(3, start=500, subject="Printer on fire", assignee="Dana Scully", priority_label="Urgent")


@pytest.fixture(scope="module")
def site(database_url, redis_url, tmp_path_factory):
    """A seeded cache, one web server (Flask's threaded server) and a browser, for the whole module."""
    Redis.from_url(redis_url).flushdb()  # no rendered page or generation left by an earlier module
    folder = tmp_path_factory.mktemp("pages")
    (folder / "logs").mkdir()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "pages-" + "k" * 32,
           "INSTANCE_PATH": str(folder / "instance"), "SESSION_COOKIE_SECURE": "false", "JIRA_BASE_URL": "",
           "FRESHDESK_BASE_URL": "", "FRESHSERVICE_BASE_URL": "", "LOG_LEVEL": "warning"}
    app = create_app(env)
    procs = Processes(env, folder / "logs")
    try:
        _seed(app)
        ensure_user(app, *ADMIN, "admin")
        base = procs.start_web()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield base, browser
            finally:
                browser.close()
    finally:
        procs.stop_all()
        with app.app_context():
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            db.engine.dispose()


@pytest.fixture()
def page(site) -> Page:
    """A fresh page on the incidents tracker."""
    base, browser = site
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    tab = context.new_page()
    login(tab, base)
    tab.goto("/incidents")
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the viewport to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def rows(page: Page):
    """Return the data rows of the ticket table."""
    return page.locator("#ticket-rows tr:not(.more-row)")


def test_filters_search_sort_and_paging_swap_the_table_and_the_url_and_back_restores(page):
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")
    page.fill("#filter-q", "printer")
    page.wait_for_url(re.compile(r"q=printer"))
    expect(rows(page)).to_have_count(3)
    page.select_option("#filter-priority", "Urgent")
    page.wait_for_url(re.compile(r"priority=Urgent"))
    page.click("th >> text=Updated")
    page.wait_for_url(re.compile(r"dir=asc"))
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Updated")
    page.select_option("#filter-assignee", "Dana Scully")
    page.wait_for_url(re.compile(r"assignee=Dana"))
    assert "dir=asc" in page.url and "q=printer" in page.url, "a filter change lost the sort or the search"
    shot(page, "11-incidents-filtered-sorted")
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes", "a filter change reloaded the page"
    page.go_back()
    page.wait_for_url(re.compile(r"dir=asc(?!.*assignee)"))
    expect(page.locator("#filter-assignee")).to_have_value("")
    expect(page.locator("#filter-priority")).to_have_value("Urgent")
    expect(page.locator("#filter-q")).to_have_value("printer")
    page.goto("/incidents")
    expect(rows(page)).to_have_count(50)
    page.click("text=Load more")
    expect(rows(page)).to_have_count(100)
    keys = page.locator("#ticket-rows td.key a").all_inner_texts()
    assert len(set(keys)) == 100


def test_empty_and_error_and_loading_states(page):
    page.fill("#filter-q", "no such thing at all")
    expect(page.locator(".state-empty")).to_contain_text("No items match these filters")
    expect(page.get_by_role("link", name="Clear the filters")).to_be_visible()

    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:  # the request waits until the loading state has been checked, however long
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r".*/incidents\?.*"), hold)
    page.fill("#filter-q", "printer")
    expect(page.locator("#table-region .loading-overlay")).to_be_visible()
    expect(page.locator("#ticket-table")).to_have_attribute("aria-busy", "true")
    shot(page, "12-incidents-loading")
    holding[0] = False
    for route in held:
        route.continue_()
    expect(rows(page)).to_have_count(3)
    expect(page.locator("#ticket-table")).to_have_attribute("aria-busy", "false")
    page.unroute(re.compile(r".*/incidents\?.*"))
    page.route(re.compile(r".*/incidents\?.*"), lambda route: route.fulfill(status=500, body="boom"))
    page.fill("#filter-q", "print")
    notice = page.locator("#table-notice")
    expect(notice).to_contain_text("server answered 500")
    expect(notice.get_by_role("link", name="Try again")).to_have_attribute("href", re.compile(r"q=print"))
    expect(rows(page)).to_have_count(3)
    shot(page, "13-incidents-error-notice")


def test_keyboard_sorting_theme_and_ticket_page(page):
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.focus("#sort-priority")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"sort=priority"))
    expect(page.locator("th[aria-sort]")).to_contain_text("Priority")
    expect(page.locator("#sort-priority")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"sort=priority&dir=asc"))
    page.focus("[data-theme-toggle]")
    page.keyboard.press("Space")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    shot(page, "14-incidents-dark")
    page.locator("#ticket-rows td.key a").first.click()
    page.wait_for_url(re.compile(r"/tickets/\d+"))
    expect(page.get_by_role("link", name="Open in Freshdesk")).to_have_attribute("href", re.compile("freshdesk.com"))
    shot(page, "15-ticket-dark")


def test_schedule_form_shows_errors_inline_and_saves(page):
    page.goto("/sync")
    card = page.locator("#schedule-JIRA")
    card.locator("input[name=interval_minutes]").fill("3")
    card.locator("input[name=interval_minutes]").evaluate("input => input.removeAttribute('min')")
    card.get_by_role("button", name="Save JIRA schedule").click()
    expect(page.locator("#schedule-JIRA .field-error")).to_contain_text("out of range")
    expect(page.locator("#schedule-JIRA input[name=interval_minutes]")).to_have_attribute("aria-invalid", "true")
    shot(page, "16-schedule-error")
    page.locator("#schedule-JIRA input[name=interval_minutes]").fill("30")
    page.locator("#schedule-JIRA").get_by_role("button", name="Save JIRA schedule").click()
    expect(page.locator("#schedule-JIRA .saved")).to_contain_text("Saved")
    expect(page.locator("#schedule-JIRA")).to_contain_text("every 30 min")
    page.reload()
    expect(page.locator("#schedule-JIRA")).to_contain_text("every 30 min")
