"""The UX pass in headless Chromium against the real stack (simulator, `python worker.py`, gunicorn): axe-core on every
page in both themes, as viewer and admin, with a sync running and finished (0 serious or critical violations; totals
per page printed); keyboard-only use with visible focus; toasts in one polite live region; reduced motion; no
sideways scrolling at 390 px; no admin control in a viewer's HTML; one time convention; SLA state; CSV downloads;
rebuilt trend series. Screenshots go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from redis import Redis
from sqlalchemy import select

from tests.live import (
    ADMIN,
    ARTIFACTS,
    TEST_PASSWORD,
    LiveStack,
    Processes,
    ensure_user,
    launch_chromium,
    login,
    signed_in_session,
    wait_until,
)
from tickettracker import create_app
from tickettracker.core.vocabulary import ENDED_STATUSES, SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun, Ticket
from vendorsim import VendorSimulator

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SIZES = {"freshservice": 30, "freshdesk": 30, "jira": 60}
VIEWER = ("viewer", TEST_PASSWORD)
BAD_IMPACTS = ("serious", "critical")
INTERACTIVE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, summary, textarea"


@dataclass
class Stack(LiveStack):
    """The running stack and the pages each role visits."""

    paths: dict[str, list[str]] = field(default_factory=dict)

    def context(self, who: tuple[str, str] | None, **options) -> BrowserContext:
        """Return a browser context signed in as who (None: signed out)."""
        context = self.browser.new_context(base_url=self.base, **{"viewport": {"width": 1280, "height": 900},
                                                                   **options})
        if who is not None:
            page = context.new_page()
            login(page, self.base, *who)
            page.close()
        return context

    def open(self, context: BrowserContext, path: str) -> Page:
        """Open a page and wait until its event stream is connected (signed-in pages) and its charts drawn."""
        page = context.new_page()
        page.goto(path)
        if page.locator("#sync-stream").count():
            page.wait_for_selector("html[data-stream='up']", state="attached", timeout=10000)
        page.wait_for_timeout(150)
        return page

    def newest_run(self, sync_type: str) -> SyncRun | None:
        """Return the newest run of a type."""
        with self.app.app_context():
            try:
                return db.session.scalars(select(SyncRun).where(SyncRun.type == sync_type)
                                          .order_by(SyncRun.queued_at.desc()).limit(1)).first()
            finally:
                db.session.remove()


def _sync_and_wait(stack: Stack, sync_type: str) -> None:
    session = signed_in_session(stack.base, *ADMIN)
    url = {"JIRA": "/api/jira/sync", "Incidents": "/api/governance/sync"}[sync_type]
    job = session.post(stack.base + url, timeout=10).json()["jobId"]
    wait_until(lambda: (run := stack.newest_run(sync_type)) and run.id == job and run.status == SyncStatus.COMPLETED,
               timeout=60, what=f"the {sync_type} sync to complete")


@pytest.fixture(scope="module")
def stack(database_url, redis_url, tmp_path_factory) -> Iterator[Stack]:
    """Simulator, worker and gunicorn for the module, with both types synced once; a Chromium browser."""
    Redis.from_url(redis_url).flushdb()  # no rendered page or generation left by an earlier module
    folder = tmp_path_factory.mktemp("a11y")
    (folder / "logs").mkdir()
    sim = VendorSimulator(seed=4, sizes=SIZES).start()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "a11y-" + "k" * 32,
           "INSTANCE_PATH": str(folder / "instance"), "SESSION_COOKIE_SECURE": "false", "DEMO_MODE": "false",
           "SYNC_PAGE_SIZE": "10", "SYNC_MAX_RETRIES": "0", "LOG_LEVEL": "warning",
           # the walks open a page a second as one user; a closed page's stream slot is given back at its next
           # heartbeat (15 s), so the per-user and per-session caps would refuse live updates mid-walk
           "STREAMS_PER_USER": "500", "STREAMS_PER_SESSION": "500"} | sim.settings_env()
    procs = Processes(env, folder / "logs")
    app = create_app(env)
    try:
        ensure_user(app, *ADMIN, "admin")
        ensure_user(app, *VIEWER, "viewer")
        procs.start_worker(processes=2)
        base = procs.start_web(gunicorn=True)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                stack = Stack(base, sim, procs, app, browser)
                for sync_type in ("Incidents", "JIRA"):
                    _sync_and_wait(stack, sync_type)
                with app.app_context():
                    ticket = db.session.scalar(select(Ticket.id).where(Ticket.source == "freshdesk").limit(1))
                    db.session.remove()
                common = ["/", "/incidents", "/development", f"/tickets/{ticket}", "/sync",
                          f"/sync/runs/{stack.newest_run('JIRA').id}", "/account"]
                stack.paths = {"admin": [*common, "/admin/users", "/sync/full/JIRA"], "viewer": common}
                yield stack
            finally:
                browser.close()
    finally:
        procs.stop_all()
        sim.stop()
        with app.app_context():
            db.session.remove()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE sync_logs, sync_runs, sync_cursors, tickets, kpi_snapshots, users, "
                                     "audit_events, api_tokens RESTART IDENTITY CASCADE")
            db.engine.dispose()


def shot(page: Page, name: str, full: bool = False) -> None:
    """Save a screenshot to test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


@pytest.fixture()
def running_jira(stack: Stack) -> Iterator[SyncRun]:
    """A JIRA sync kept running (a starved rate budget) for the test, cancelled afterwards."""
    stack.sim.vendor("jira").set_rate_limit(2, 60)
    session = signed_in_session(stack.base, *ADMIN)
    job = session.post(stack.base + "/api/jira/sync", timeout=10).json()["jobId"]
    wait_until(lambda: (run := stack.newest_run("JIRA")) and run.id == job and run.status == SyncStatus.RUNNING,
               timeout=30, what="the JIRA sync to run")
    try:
        yield stack.newest_run("JIRA")
    finally:
        session.post(f"{stack.base}/api/sync/jobs/{job}/cancel", timeout=10)
        stack.sim.vendor("jira").set_rate_limit(None, 60)
        wait_until(lambda: stack.newest_run("JIRA").status in ENDED_STATUSES, timeout=60, what="the sync to stop")


def _scan(stack: Stack, context: BrowserContext, path: str, label: str, axe: Axe,
          report: list[str], failures: list[str]) -> None:
    page = stack.open(context, path)
    theme = label.split()[-1]
    assert page.get_attribute("html", "data-theme") == theme, f"{path} is not in the {theme} theme"
    results = axe.run(page).response["violations"]
    page.close()
    bad = [v for v in results if v["impact"] in BAD_IMPACTS]
    nodes = sum(len(v["nodes"]) for v in results)
    report.append(f"axe {label} {path:<34} {len(results):2d} violations ({nodes} nodes), {len(bad)} serious/critical")
    failures += [f"{label} {path}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}" for v in bad]


SCANS = [(theme, role) for theme in ("light", "dark") for role in ("admin", "viewer", "signed-out")]


def _scan_all(stack: Stack, state: str, theme: str, role: str, report: list[str], failures: list[str]) -> None:
    """Scan every page of a role (signed out: the sign-in page) in one theme."""
    who = {"admin": ADMIN, "viewer": VIEWER, "signed-out": None}[role]
    axe = Axe()
    context = stack.context(who, color_scheme=theme)
    for path in stack.paths[role] if who else ["/login"]:
        _scan(stack, context, path, f"{state:<8} {role if who else '-':<6} {theme:<5}", axe, report, failures)
    context.close()


def test_axe_finds_a_planted_violation_on_these_pages(stack):
    context = stack.context(ADMIN)
    page = stack.open(context, "/")
    page.evaluate("""() => { const b = document.createElement('button'); b.id = 'planted';
                             document.querySelector('main').appendChild(b); }""")
    found = {v["id"]: v["impact"] for v in Axe().run(page).response["violations"]}
    context.close()
    assert found.get("button-name") == "critical", found


@pytest.mark.parametrize(("theme", "role"), SCANS)
def test_axe_every_page_both_themes_both_roles_with_a_sync_running(stack, running_jira, capsys, theme, role):
    report: list[str] = []
    failures: list[str] = []
    stack.paths["admin"].append(f"/sync/runs/{running_jira.id}")
    try:
        _scan_all(stack, "running", theme, role, report, failures)
    finally:
        stack.paths["admin"].pop()
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize(("theme", "role"), SCANS)
def test_axe_after_the_syncs_finished(stack, capsys, theme, role):
    report: list[str] = []
    failures: list[str] = []
    _scan_all(stack, "finished", theme, role, report, failures)
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert failures == [], "\n".join(failures)


FOCUS_INFO = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) { return null; }
  const cs = getComputedStyle(el);
  const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== 'none';
  const what = el.tagName + ' ' + (el.id || el.textContent.trim().slice(0, 40));
  return {key: el.id ? '#' + el.id : (el.dataset.ttKey || null), ring: ring, what: what};
}"""
ACTIONS = """(selector) => [...document.querySelectorAll(selector)]
  .filter(el => el.checkVisibility({visibilityProperty: true}) && el.tabIndex >= 0)
  .map((el, i) => { el.dataset.ttKey = 'k' + i;
                    const what = el.tagName + ' ' + (el.id || el.getAttribute('href') || el.textContent.trim());
                    return [el.id ? '#' + el.id : el.dataset.ttKey, what]; })"""


def _tab_through(page: Page) -> tuple[set[str], list[str]]:
    """Press Tab until focus leaves the page; return what was focused and what had no visible focus ring."""
    reached, unringed = set(), []
    expected = page.evaluate("(s) => document.querySelectorAll(s).length", INTERACTIVE)
    for _ in range(expected + 25):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS_INFO)
        if info is None:
            break
        reached.add(info["key"])
        if not info["ring"]:
            unringed.append(info["what"])
    return reached, unringed


def test_keyboard_alone_reaches_every_action_with_a_visible_focus_ring(stack, running_jira):
    for theme in ("light", "dark"):
        context = stack.context(ADMIN, color_scheme=theme)
        for path in [*stack.paths["admin"], f"/sync/runs/{running_jira.id}"]:
            page = stack.open(context, path)
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            actions = dict(page.evaluate(ACTIONS, INTERACTIVE))
            reached, unringed = _tab_through(page)
            missed = [what for key, what in actions.items() if key not in reached]
            assert missed == [], f"{theme} {path}: not reachable by Tab: {missed}"
            assert unringed == [], f"{theme} {path}: focused without a visible ring: {unringed}"
            page.close()
        context.close()


def test_toasts_use_one_polite_live_region_and_are_reachable_by_keyboard(stack):
    context = stack.context(ADMIN)
    page = stack.open(context, "/development")
    page.focus("#sync-btn-JIRA")
    page.keyboard.press("Enter")
    started = page.locator(".toast", has_text="JIRA sync started")
    expect(started).to_be_visible()
    regions = page.evaluate("""() => [...document.querySelectorAll(
        '[aria-live], [role=status], [role=alert], [role=log]')]
        .filter(el => el.querySelector('.toast') || el.closest('.toast')).map(el => el.id || el.className)""")
    assert regions == ["toasts"], f"toasts must be announced by the one #toasts region, not {regions}"
    assert page.get_attribute("#toasts", "aria-live") == "polite"
    assert started.locator("time[datetime]").inner_text() == "just now"
    page.keyboard.press("Alt+n")
    assert page.evaluate("document.activeElement.closest('.toast') !== null"), "Alt+N did not reach the toast"
    page.keyboard.press("Escape")
    done = page.locator(".toast", has_text="JIRA sync completed")
    expect(done).to_be_visible(timeout=30000)
    assert done.get_attribute("role") is None and done.locator("[role], [aria-live]").count() == 0
    page.focus("#sync-btn-JIRA")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#toasts') !== null"), \
        "the notifications do not follow the status bar in the tab order"
    context.close()


def test_reduced_motion_stops_the_spinner_and_the_progress_animation(stack, running_jira):
    probe = """() => { const p = document.createElement('progress'); document.querySelector('.syncbar').appendChild(p);
        const spinner = document.querySelector('#sync-btn-JIRA .spinner');
        return {spinner: getComputedStyle(spinner).animationName, progress: getComputedStyle(p).appearance}; }"""
    seen = {}
    for motion in ("reduce", "no-preference"):
        context = stack.context(ADMIN, reduced_motion=motion)
        page = stack.open(context, "/development")
        expect(page.locator("#sync-btn-JIRA .spinner")).to_be_visible()
        if motion == "reduce":
            shot(page, "a11y-reduced-motion-running")
        seen[motion] = page.evaluate(probe)
        context.close()
    assert seen["reduce"] == {"spinner": "none", "progress": "none"}, seen
    assert seen["no-preference"]["spinner"] == "spin" and seen["no-preference"]["progress"] != "none", seen


OVERFLOW = """() => {
  const width = window.innerWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) { continue; }
    let box = el.parentElement, scrolled = false;
    while (box && box !== document.body) {
      const o = getComputedStyle(box).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') && box.getBoundingClientRect().right <= width + 1) {
        scrolled = true; break;
      }
      box = box.parentElement;
    }
    if (!scrolled) { out.push(el.tagName + '.' + el.className + '#' + el.id); }
  }
  return {page: document.documentElement.scrollWidth, width: width, out: out.slice(0, 8)};
}"""


def test_at_390_px_no_page_scrolls_sideways_and_the_status_bar_buttons_stay_reachable(stack, running_jira):
    context = stack.context(ADMIN, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    for path in [*stack.paths["admin"], f"/sync/runs/{running_jira.id}"]:
        page = stack.open(context, path)
        found = page.evaluate(OVERFLOW)
        assert found["page"] <= found["width"] and found["out"] == [], f"{path} at 390 px: {found}"
        buttons = {"/development": ["#sync-cancel-JIRA"], "/incidents": ["#sync-btn-Incidents"],
                   "/sync": ["#sync-btn-Incidents", "#sync-cancel-JIRA"]}.get(path, [])
        for selector in buttons:
            button = page.locator(selector)
            button.scroll_into_view_if_needed()
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{path} {selector} off screen: {box}"
            button.click(trial=True)
        if path in ("/development", "/sync"):
            shot(page, f"phone-390{path.replace('/', '-')}")
        page.close()
    context.close()


def test_screenshots_of_the_dark_dashboard(stack):
    context = stack.context(ADMIN, color_scheme="dark", viewport={"width": 1360, "height": 900})
    page = stack.open(context, "/")
    page.wait_for_selector("figure[data-drawn-theme='dark']")
    shot(page, "dashboard-dark-admin", full=True)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("figure[data-chart='fw-trend']").screenshot(path=str(ARTIFACTS / "dashboard-dark-trend.png"))
    drawn = page.evaluate("""() => Chart.getChart(document.querySelector("figure[data-chart='fw-trend'] canvas"))
        .data.datasets.map(d => [d.label, d.type || 'line', d.yAxisID || 'y', Boolean(d.segment || d.borderDash)])""")
    assert drawn[0][0] == "Open backlog" and drawn[0][3], "days without a snapshot are not drawn as rebuilt"
    assert [d[1:3] for d in drawn[2:]] == [["bar", "y1"], ["bar", "y1"]], drawn
    assert "rebuilt from the items' own dates" in page.locator("figure[data-chart='fw-trend'] .chart-note").inner_text()
    context.close()


ADMIN_MARKERS = ("sync-btn", "sync-cancel", "/api/jira/sync", "/api/governance/sync", 'name="interval_minutes"',
                 "/admin/users")


def test_a_viewer_gets_no_admin_control_in_the_html_even_as_live_events_arrive(stack, running_jira):
    context = stack.context(VIEWER)
    for path in stack.paths["viewer"]:
        page = stack.open(context, path)
        expect(page.locator("#sync-status-JIRA")).to_have_attribute("data-state", SyncStatus.RUNNING.slug)
        page.wait_for_timeout(300)
        html = page.content()
        assert [m for m in ADMIN_MARKERS if m in html] == [], f"a viewer got admin controls on {path}"
        page.close()
    page = stack.open(context, "/development")
    signed_in_session(stack.base, *ADMIN).post(f"{stack.base}/api/sync/jobs/{running_jira.id}/cancel", timeout=10)
    expect(page.locator(".toast", has_text="JIRA sync cancelled")).to_be_visible(timeout=20000)
    html = page.content()
    assert [m for m in ADMIN_MARKERS if m in html] == [], "an event gave a viewer admin controls"
    context.close()


def test_times_follow_one_convention_in_the_readers_zone(stack):
    context = stack.context(ADMIN, timezone_id="Asia/Kolkata")
    run = stack.newest_run("JIRA")
    page = stack.open(context, f"/sync/runs/{run.id}")
    times = page.evaluate("""() => [...document.querySelectorAll('time')].map(t => ({
        iso: t.getAttribute('datetime'), title: t.title, style: t.dataset.time, text: t.textContent}))""")
    assert times and all(t["iso"].endswith("+00:00") and t["title"].endswith(" UTC") for t in times), times
    assert not any("UTC" in t["text"] for t in times), "the browser did not put a time into the reader's zone"
    clock = next(t for t in times if t["style"] == "clock")
    local = datetime.fromisoformat(clock["iso"]).astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert clock["text"].endswith(local.strftime("%H:%M:%S")), clock
    assert any(re.fullmatch(r"(just now|\d+ min ago|\d+ h ago)", t["text"]) for t in times), times
    context.close()


def test_ticket_page_sla_and_csv_downloads_with_the_current_filters(stack):
    context = stack.context(VIEWER, accept_downloads=True)
    page = stack.open(context, stack.paths["viewer"][3])
    expect(page.locator("[data-sla]").first).to_be_visible()
    assert re.search(r"(overdue by|due in|resolved in|first response) ", page.locator("dl.facts").inner_text())
    page = stack.open(context, "/incidents")
    page.select_option("#filter-source", "freshdesk")
    page.wait_for_url(re.compile(r"source=freshdesk"))
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download CSV")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == SIZES["freshdesk"] and {r["source"] for r in rows} == {"freshdesk"}
    assert all(r["updated_at"].endswith("+00:00") for r in rows)
    page = stack.open(context, "/sync?type=JIRA")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download CSV")).click()
    runs = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert runs and {r["type"] for r in runs} == {"JIRA"}
    context.close()
