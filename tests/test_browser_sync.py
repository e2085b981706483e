"""The original system's manual sync checklist, automated in headless Chromium against the real stack.

One module-wide stack: the vendor simulator (in this process, small data), `python worker.py` (real RQ workers) and
gunicorn with the production config (gevent). Every test starts from an empty cache and an idle sync engine.
Screenshots of the main states go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from redis import Redis
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.live import ADMIN, LiveStack, Processes, answers, ensure_user, login, signed_in_session, wait_until
from tickettracker import create_app
from tickettracker.core.vocabulary import ACTIVE_STATUSES, SyncStatus
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun
from tickettracker.sync import runs
from vendorsim import VendorSimulator

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SIZES = {"freshservice": 40, "freshdesk": 40, "jira": 60}
CLOCK_STEP_MS = 50
STARTUP_MS = 1000
RESET_TABLES = "sync_logs, sync_runs, sync_cursors, tickets, kpi_snapshots"


@dataclass
class Stack(LiveStack):
    """The running stack and handles to steer it."""

    errors: list[str] = field(default_factory=list)

    def slow(self, per_minute: int, *vendors: str) -> None:
        """Give vendors a request budget the connectors pace themselves to (a slower sync)."""
        for name in vendors:
            self.sim.vendor(name).set_rate_limit(per_minute, 60)

    def context(self, clock: bool = False) -> BrowserContext:
        """Return a fresh browser context, optionally with a paused fake clock.

        The clock is installed and paused before any page of the context loads, so its timers move only when a test
        calls fast_forward/run_for: what a test asserts about them never depends on how busy the machine is.
        """
        context = self.browser.new_context(viewport={"width": 1280, "height": 800}, base_url=self.base)
        if clock:
            start = datetime.now(timezone.utc)
            context.clock.install(time=start)
            context.clock.pause_at(start)
        page = context.new_page()
        login(page, self.base)
        page.close()
        return context

    def open(self, context: BrowserContext, path: str) -> Page:
        """Open a page (recording console errors) and wait until its event stream is connected."""
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"HTTP {r.status} {r.url}"))
        page.goto(path)
        wait_stream(page)
        return page

    def open_paused(self, path: str) -> Page:
        """Open a page in a fresh context whose fake clock is paused from before the page loads.

        The page's start-up timers (htmx's load handlers) run once; after that its clock moves only when the test
        moves it (run_clock_until_visible, fast_forward, run_for).
        """
        page = self.open(self.context(clock=True), path)
        page.clock.run_for(STARTUP_MS)
        return page

    def run_status(self, sync_type: str) -> int | None:
        """Return the status of the newest run of a type."""
        with self.app.app_context():
            try:
                return db.session.scalars(select(SyncRun.status).where(SyncRun.type == sync_type)
                                          .order_by(SyncRun.queued_at.desc()).limit(1)).first()
            finally:
                db.session.remove()


def wait_stream(page: Page) -> None:
    """Wait until the page's EventSource is open (the layout marks <html data-stream="up">)."""
    page.wait_for_selector("html[data-stream='up']", state="attached", timeout=10000)


def run_clock_until_visible(page: Page, locator, timeout: float = 30.0) -> None:
    """Move a page's paused clock on in small steps until the locator is visible.

    The page's timers run as they would in real time meanwhile, and the element is at most one step old on the fake
    clock when this returns, however long the machine took to deliver it.
    """
    def moved_and_visible() -> bool:
        page.clock.run_for(CLOCK_STEP_MS)
        return locator.is_visible()

    wait_until(moved_and_visible, timeout=timeout, interval=0.05, what=f"{locator} to be visible")


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the viewport to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def state(page: Page, sync_type: str):
    """Return the status widget of a type."""
    return page.locator(f"#sync-status-{sync_type}")


def _env(database_url: str, redis_url: str, folder: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "browser-" + "k" * 32,
            "INSTANCE_PATH": str(folder / "instance"), "SESSION_COOKIE_SECURE": "false", "DEMO_MODE": "false",
            "SYNC_PAGE_SIZE": "10", "SYNC_MAX_RETRIES": "0", "LOG_LEVEL": "warning",
            # these tests time paced syncs; one remote-link call per issue would make a Jira sync twice as long
            "JIRA_REMOTE_LINKS_PER_RUN": "0"}


@pytest.fixture(scope="module")
def stack(database_url, redis_url, tmp_path_factory):
    """Simulator, worker and gunicorn web for the whole module; a Chromium browser. All stopped, even on errors."""
    Redis.from_url(redis_url).flushdb()  # no rendered page or generation left by an earlier module
    folder = tmp_path_factory.mktemp("browser")
    (folder / "logs").mkdir()
    sim = VendorSimulator(seed=1, sizes=SIZES).start()
    env = _env(database_url, redis_url, folder) | sim.settings_env()
    procs = Processes(env, folder / "logs")
    app = create_app(env)
    try:
        ensure_user(app, *ADMIN, "admin")
        procs.start_worker(processes=2)
        base = procs.start_web(gunicorn=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield Stack(base, sim, procs, app, browser)
            finally:
                browser.close()
    finally:
        procs.stop_all()
        sim.stop()
        _empty(app, RESET_TABLES + ", users, audit_events")


def _empty(app, tables: str = RESET_TABLES) -> None:
    """Empty the tables and bump every data generation, as a commit would: no page rendered before stays reachable
    in the render cache (the next test's pages would otherwise show the last test's rows under equal generations)."""
    with app.app_context():
        db.session.remove()
        for attempt in range(5):  # the stack's processes may still read: PostgreSQL can pick the TRUNCATE as a
            try:                   # deadlock's victim, and it only has to run again
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                break
            except OperationalError as exc:
                if not isinstance(exc.orig, psycopg.errors.DeadlockDetected) or attempt == 4:
                    raise
                time.sleep(0.2)
        db.engine.dispose()
        generations.bump(*generations.DATA_SETS)


def _idle(app) -> bool:
    with app.app_context():
        try:
            active = db.session.scalars(select(SyncRun.id).where(
                SyncRun.status.in_([int(s) for s in ACTIVE_STATUSES]))).all()
            for run_id in active:
                runs.request_cancel(run_id)
            return not active
        finally:
            db.session.remove()


@pytest.fixture()
def live(stack: Stack) -> Iterator[Stack]:
    """The stack with no page of an earlier test open, an idle engine, an empty cache and a well-behaved
    simulator (a page left open could still be reading while the tables are emptied)."""
    for context in list(stack.browser.contexts):
        context.close()
    wait_until(lambda: _idle(stack.app), timeout=60, what="no sync running")
    _empty(stack.app)
    for name in SIZES:
        vendor = stack.sim.vendor(name)
        vendor.clear_faults()
        vendor.set_bad_token(False)
        vendor.set_rate_limit(None, 60)
    stack.errors.clear()
    yield stack
    bad = [e for e in stack.errors if e.startswith(("uncaught", "HTTP 5")) or "Content Security Policy" in e
           or any(word in e for word in ("oobErrorNoTarget", "swapError", "evalDisallowed", "targetError"))]
    assert bad == [], f"the pages had errors: {bad}"


def test_sync_then_navigate_away_at_once_the_toast_follows_and_only_that_type_is_busy(live):
    live.slow(1800, "freshservice", "freshdesk")
    page = live.open(live.context(), "/incidents")
    expect(page.locator(".state-empty")).to_contain_text("no incidents")
    shot(page, "01-incidents-empty")
    with page.expect_request(lambda r: r.url.endswith("/api/governance/sync")):
        page.click("#sync-btn-Incidents")
    page.click("nav >> text=Development")
    page.wait_for_url("**/development")
    assert live.run_status("Incidents") in ACTIVE_STATUSES, "the sync is not running while the next page shows"
    active = re.compile("|".join(s.slug for s in ACTIVE_STATUSES))
    expect(state(page, "Incidents")).to_have_attribute("data-state", active)
    expect(page.locator("#sync-btn-JIRA")).to_be_enabled()
    expect(page.locator("#sync-btn-Incidents")).to_be_hidden()
    shot(page, "02-development-while-incidents-sync-runs")
    done = page.locator(".toast-success", has_text="Incidents sync completed")
    expect(done).to_be_visible(timeout=30000)
    expect(state(page, "Incidents")).to_have_attribute("data-state", SyncStatus.COMPLETED.slug)
    shot(page, "03-development-incidents-completed-toast")
    assert done.count() == 1
    page.go_back()
    expect(page.locator("#ticket-rows tr:not(.more-row)")).to_have_count(50)


def test_back_to_a_page_the_browser_kept_in_its_cache_shows_the_rows_of_now(live):
    """Back/Forward may show the copy the browser kept (`private, no-cache` does not stop that; `Vary: Cookie` only
    while the session cookie is the one the page was loaded with, i.e. within its second); the page then loads itself
    afresh instead of showing the past."""
    context = live.context()
    sent: list[str] = []  # the Cookie header the page was loaded with: the browser keeps its copy under it
    context.on("request", lambda r: r.is_navigation_request() and sent.append(r.header_value("cookie") or ""))
    page = live.open(context, "/incidents")
    expect(page.locator(".state-empty")).to_contain_text("no incidents")
    cookies = [{"name": name, "value": value, "url": live.base}
               for name, _, value in (pair.partition("=") for pair in sent[-1].split("; ") if pair)]
    page.click("nav >> text=Development")
    page.wait_for_url("**/development")
    wait_stream(page)
    job_id = signed_in_session(live.base, *ADMIN).post(live.base + "/api/governance/sync", timeout=10).json()["jobId"]
    done = page.locator(f"#sync-status-Incidents[data-job-id='{job_id}']")
    expect(done).to_have_attribute("data-state", SyncStatus.COMPLETED.slug, timeout=30000)
    context.add_cookies(cookies)  # the session cookie as if every request since had come within the same second
    page.go_back()
    page.wait_for_url("**/incidents")
    expect(page.locator("#ticket-rows tr:not(.more-row)")).to_have_count(50)
    expect(page.locator(".state-empty")).to_have_count(0)


def test_table_refreshes_in_place_keeping_sort_and_scroll_and_the_dashboard_refreshes(live):
    context = live.context()
    page = live.open(context, "/development?sort=created&dir=asc")
    dashboard = live.open(context, "/")
    dashboard.evaluate("document.getElementById('dashboard-body').dataset.mark = 'old'")
    page.bring_to_front()
    page.click("#sync-btn-JIRA")
    expect(page.locator("#sync-btn-JIRA")).to_be_disabled()
    expect(page.locator("#sync-btn-JIRA .spinner")).to_be_visible()
    expect(page.locator(".toast-success", has_text="JIRA sync completed")).to_be_visible(timeout=30000)
    rows = page.locator("#ticket-rows tr:not(.more-row)")
    expect(rows).to_have_count(50)
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Created")
    assert page.url.endswith("/development?sort=created&dir=asc")
    expect(page.locator("#sync-btn-JIRA")).to_be_enabled()
    assert page.locator("#filter-project option").count() > 1, "filter menus were not refreshed"
    expect(dashboard.locator("#dashboard-body:not([data-mark])")).to_have_count(1)
    page.click("text=Load more")
    expect(rows).to_have_count(60)
    page.evaluate("window.scrollTo(0, 900)")
    live.sim.vendor("jira").mutate(3, seed=7, kinds=("update",))
    job_id = signed_in_session(live.base, *ADMIN).post(live.base + "/api/jira/sync", timeout=10).json()["jobId"]
    again = page.locator(f"#sync-status-JIRA[data-job-id='{job_id}']")
    expect(again).to_have_attribute("data-state", SyncStatus.COMPLETED.slug, timeout=30000)
    expect(page.locator("#ticket-table")).to_have_attribute("aria-busy", "false")
    expect(rows).to_have_count(60)
    assert abs(page.evaluate("window.scrollY") - 900) < 5
    shot(page, "04-development-refreshed-in-place")


def test_vendor_failure_shows_an_error_toast_with_reason_and_log_link_timed_and_pausable(live):
    live.sim.vendor("jira").set_bad_token(True)
    page = live.open_paused("/development")
    page.click("#sync-btn-JIRA")
    error = page.locator(".toast-error", has_text="JIRA sync failed")
    run_clock_until_visible(page, error)
    expect(error).to_contain_text("Jira rejected the credentials")
    expect(state(page, "JIRA")).to_have_attribute("data-state", SyncStatus.FAILED.slug)
    expect(page.locator("#sync-btn-JIRA")).to_be_enabled()
    shot(page, "05-development-failed-toast")
    page.clock.fast_forward(5500)
    expect(error).to_be_visible()
    error.hover()
    page.clock.fast_forward(4000)
    expect(error).to_be_visible()
    page.mouse.move(5, 300)
    page.clock.fast_forward(2000)
    page.clock.run_for(300)
    expect(error).to_have_count(0)
    expect(state(page, "JIRA")).to_have_attribute("data-state", SyncStatus.IDLE.slug)
    expect(state(page, "JIRA")).to_contain_text("Last sync failed")
    state(page, "JIRA").get_by_role("link", name="View the log").click()
    page.wait_for_url("**/sync/runs/*")
    expect(page.locator(".run-error")).to_contain_text("JIRA_API_TOKEN")
    expect(page.locator(".log-group[data-source=run] table.log")).to_contain_text("rejected the credentials")
    shot(page, "06-run-log-page")


def test_success_toast_waits_while_the_tab_is_hidden(live):
    page = live.open_paused("/development")
    page.click("#sync-btn-JIRA")
    done = page.locator(".toast-success", has_text="JIRA sync completed")
    run_clock_until_visible(page, done)
    page.evaluate("""() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
                            document.dispatchEvent(new Event('visibilitychange')); }""")
    page.clock.fast_forward(6000)
    expect(done).to_be_visible()
    page.evaluate("() => { delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange')); }")
    page.clock.fast_forward(5200)
    page.clock.run_for(300)
    expect(done).to_have_count(0)


def test_two_tabs_follow_a_reload_mid_sync_shows_it_running_and_cancel_works(live):
    live.slow(30, "jira")
    context = live.context()
    tab, other = live.open(context, "/development"), live.open(context, "/sync")
    tab.bring_to_front()
    tab.focus("#sync-btn-JIRA")
    tab.keyboard.press("Enter")
    for page in (tab, other):
        expect(state(page, "JIRA")).to_have_attribute("data-state", SyncStatus.RUNNING.slug, timeout=10000)
    expect(tab.locator("#sync-cancel-JIRA")).to_be_focused()
    expect(other.locator("#sync-btn-JIRA")).to_be_disabled()
    expect(other.locator("#sync-btn-Incidents")).to_be_enabled()
    shot(other, "07-sync-page-jira-running-second-tab")
    response = tab.reload(wait_until="commit")
    widget = re.search(r'<div id="sync-status-JIRA".*?</div>', response.text(), re.S)
    assert widget and f'data-state="{SyncStatus.RUNNING.slug}"' in widget.group(0), widget and widget.group(0)
    expect(tab.locator("#sync-btn-JIRA")).to_be_disabled()
    expect(state(tab, "JIRA").locator("progress")).to_be_visible()
    wait_stream(tab)
    shot(tab, "08-development-reloaded-mid-sync")
    tab.focus("#sync-cancel-JIRA")
    tab.keyboard.press("Enter")
    for page in (tab, other):
        expect(page.locator(".toast", has_text="JIRA sync cancelled")).to_be_visible(timeout=20000)
        expect(state(page, "JIRA")).to_have_attribute("data-state", SyncStatus.CANCELLED.slug)
        expect(page.locator("#sync-btn-JIRA")).to_be_enabled()
    expect(other.locator(f"#history-table .run-status-{SyncStatus.CANCELLED.slug}")).to_have_count(1)
    shot(other, "09-sync-page-after-cancel")
    assert live.run_status("JIRA") == SyncStatus.CANCELLED


def _restart_web(stack: Stack) -> None:
    """Start gunicorn again on the same port (PORT is still in the children's environment)."""
    stack.procs.start("web", [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"])
    wait_until(lambda: answers(stack.base + "/health"), timeout=30, what="web back")


def test_after_a_dropped_stream_the_missed_completion_still_arrives(live):
    # The page's clock is paused from before it loads: the finished widget's 10 s clearing and the toast's timer start
    # only when the test moves the clock (the stream's reconnect timers move with it), so the checks after the
    # completion arrives see it however long the machine takes to run them.
    live.slow(120, "jira")
    page = live.open_paused("/development")
    page.click("#sync-btn-JIRA")
    expect(state(page, "JIRA")).to_have_attribute("data-state", SyncStatus.RUNNING.slug, timeout=10000)
    live.procs.kill("web")
    assert live.run_status("JIRA") == SyncStatus.RUNNING, "the sync ended before the stream dropped; nothing to recover"
    expect(page.locator("#stream-note")).to_be_visible(timeout=10000)
    shot(page, "10-stream-interrupted")
    wait_until(lambda: live.run_status("JIRA") == SyncStatus.COMPLETED, timeout=60,
               what="the sync to finish while the web is down")
    _restart_web(live)
    done = page.locator(".toast-success", has_text="JIRA sync completed")
    run_clock_until_visible(page, done)
    expect(page.locator("#ticket-rows tr:not(.more-row)")).to_have_count(50)
    expect(page.locator("#stream-note")).to_be_hidden()
    expect(state(page, "JIRA")).to_have_attribute("data-state", SyncStatus.COMPLETED.slug)
    assert done.count() == 1


def test_a_full_resync_shows_its_estimate_first_and_beside_the_actual_figures_then_the_budget_chart(live):
    live.slow(6000, "jira")
    page = live.open(live.context(), "/sync")
    page.click("#full-resync-JIRA")
    page.wait_for_url("**/sync/full/JIRA")
    summary = page.locator("#estimate-summary")
    expect(summary).to_have_text(re.compile(r"^About [\d,]+ calls, [\d,]+ credits; time unknown until a sync has "
                                            r"seen the budget \(syncs use 50% of the budget\)\.$"))
    expect(page.locator(".estimate-table tr[data-source=jira] td").first).to_have_text("0")  # nothing cached yet
    expect(page.locator("main")).to_contain_text("this is a floor")
    shot(page, "20-full-resync-estimate")
    page.click("#confirm-full-resync")
    page.wait_for_url("**/sync/runs/*")
    expect(page.locator(".run-status")).to_have_text("Completed", timeout=60000)
    figures = page.locator("table.estimate-actual")
    expect(figures).to_be_visible()
    expect(figures.locator("tr[data-figure=calls] td").nth(1)).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("table.run-vendors tr[data-source=jira]")).to_contain_text("of 6000 left")

    page = live.open(live.context(), "/sync")
    chart = page.locator("#budget-jira svg.budget-bar")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("aria-label", re.compile(r"^Jira: budget 6000 credits per minute, our share 3000, "
                                                             r"headroom 3000, last run used \d+ per minute$"))
    ours = page.locator("#budget-jira rect.budget-ours")
    expect(ours).to_have_attribute("width", "50.0")
    row = page.locator(".budget-table tr[data-source=jira]")
    expect(row).to_contain_text("6,000 credits per minute")
    expect(row).to_contain_text("3,000 per minute")
    chart.scroll_into_view_if_needed()
    shot(page, "21-budget-meter")

    page.click("#full-resync-JIRA")
    expect(page.locator("#estimate-summary")).to_have_text(
        re.compile(r"^About [\d,]+ calls, [\d,]+ credits, under a minute at 50% of the budget\.$"))
    expect(page.locator(".estimate-table tr[data-source=jira] td").first).to_have_text(str(SIZES["jira"]))
