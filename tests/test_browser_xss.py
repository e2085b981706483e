"""Vendor text carrying script and htmx payloads, rendered in headless Chromium on every page that shows it.

No script runs, no dialog opens, no request goes to a payload URL, and the page reports no CSP violation (so
escaping and sanitising did the work; the CSP is the second line of defence, not the first)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, sync_playwright
from redis import Redis

from tests.factories import make_ticket
from tests.live import ADMIN, Processes, ensure_user, login
from tickettracker import create_app
from tickettracker.store.extensions import db

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TABLES = "sync_logs, sync_runs, sync_schedules, tickets, users, api_tokens, audit_events"
PROBE = "xss-probe"


def payloads(tag: str) -> list[str]:
    """Return script and htmx payloads whose every request would name PROBE and the tag."""
    local, remote = f"/{PROBE}/{tag}", f"https://{PROBE}.invalid/{tag}"
    return [
        f"<script>window.__xss='{tag}';fetch('{local}/script')</script>",
        f'<img src="{local}/img" onerror="window.__xss=\'{tag}\';alert(\'{tag}\')">',
        f'<a id="xss-link-{tag}" href="javascript:alert(\'{tag}\')">click {tag}</a>',
        f'<div hx-get="{local}/hx" hx-trigger="load" hx-on:htmx:load="alert(\'{tag}\')">hx {tag}</div>',
        f'<button hx-post="/api/jira/sync" hx-trigger="load">sync {tag}</button>',
        f'<svg onload="alert(\'{tag}\')"><image href="{remote}/svg"></image></svg>',
        f'"><iframe src="{remote}/frame"></iframe><style>@import "{local}/css";</style>',
    ]


def _seed(app) -> list[int]:
    ensure_user(app, *ADMIN, "admin")
    tickets = []
    with app.app_context():
        for n, text in enumerate(payloads("subject")):
            extra = payloads(f"field{n}")
            html = "".join(payloads(f"html{n}"))
            source, kind = ("jira", "jira_issue") if n % 2 else ("freshdesk", "incident")
            tickets.append(make_ticket(
                n + 1, source=source, kind=kind, external_id=f"X-{n}", subject=text,
                description_text="".join(payloads(f"text{n}")), raw={"id": n, "description": html},
                group_name=extra[0], assignee=extra[1], requester=extra[2], project=extra[3][:80],
                status_label=extra[4], priority_label=extra[5], tags=[extra[6]]))
        db.session.add_all(tickets)
        db.session.commit()
        ids = [t.id for t in tickets]
        db.session.remove()
    return ids


@pytest.fixture(scope="module")
def site(database_url, redis_url, tmp_path_factory):
    """A cache full of payloads, one web server and a browser, for the whole module."""
    Redis.from_url(redis_url).flushdb()  # no rendered page or generation left by an earlier module
    folder = tmp_path_factory.mktemp("xss")
    (folder / "logs").mkdir()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "xss-" + "k" * 32,
           "INSTANCE_PATH": str(folder / "instance"), "SESSION_COOKIE_SECURE": "false", "JIRA_BASE_URL": "",
           "FRESHDESK_BASE_URL": "", "FRESHSERVICE_BASE_URL": "", "LOG_LEVEL": "warning"}
    app = create_app(env)
    ids = _seed(app)
    procs = Processes(env, folder / "logs")
    base = procs.start_web()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield base, browser, ids
        finally:
            browser.close()
            procs.stop_all()
            with app.app_context():
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
                db.engine.dispose()


class Watch:
    """Everything a page did that a payload could have caused."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self.requests.append(f"{r.method} {r.url}"))
        page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation',"
                             " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")

    def check(self, page: Page, where: str) -> None:
        """Fail if a payload ran, fetched or was blocked by the CSP on this page."""
        page.wait_for_timeout(400)  # let hx-trigger="load" and image loads happen, if anything were to
        assert not self.dialogs, f"{where}: dialogs {self.dialogs}"
        assert [r for r in self.requests if PROBE in r or "/api/jira/sync" in r] == [], where
        assert page.evaluate("window.__xss") is None, where
        assert page.evaluate("window.__csp") == [], f"{where}: CSP violations {page.evaluate('window.__csp')}"


@pytest.fixture()
def page(site):
    """A signed-in page with its watcher."""
    base, browser, _ = site
    context = browser.new_context(base_url=base)
    tab = context.new_page()
    login(tab, base)
    yield tab, Watch(tab)
    context.close()


def test_tracker_lists_and_their_htmx_swaps_keep_payloads_inert(page, site):
    tab, watch = page
    for view in ("incidents", "development"):
        tab.goto(f"/{view}")
        assert tab.locator("#ticket-rows tr").count() >= 3
        assert "<script>window.__xss='subject'" in tab.inner_text("#ticket-rows") or view == "development"
        assert "onerror=" in tab.inner_text("#ticket-rows")  # shown as text, not turned into markup
        watch.check(tab, view)
        tab.fill("input[name=q]", "xss")
        tab.keyboard.press("Enter")
        tab.wait_for_load_state("networkidle")
        watch.check(tab, f"{view} search")


def test_ticket_pages_show_payloads_as_text_and_sanitised_html(page, site):
    tab, watch = page
    _, _, ids = site
    for ticket_id in ids:
        tab.goto(f"/tickets/{ticket_id}")
        assert "subject" in tab.inner_text("h1") and "<" in tab.inner_text("h1")  # the payload, as text
        description = tab.locator(".description")
        assert description.get_attribute("hx-disable") is not None
        assert description.locator("script, img, iframe, svg, style, [hx-get], [hx-post], [onerror]").count() == 0
        watch.check(tab, f"ticket {ticket_id}")
        links = tab.locator(".description a")
        for index in range(links.count()):
            assert not (links.nth(index).get_attribute("href") or "").startswith("javascript:")


def test_dashboard_keeps_payloads_inert(page):
    tab, watch = page
    tab.goto("/")
    tab.wait_for_load_state("networkidle")
    watch.check(tab, "dashboard")


def test_the_watch_sees_a_payload_that_does_run(page, site):
    """A control: the same checks fail when something does run, fetch or get blocked."""
    tab, watch = page
    tab.goto("/account")
    tab.evaluate(f"fetch('/{PROBE}/control'); alert('control')")
    tab.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=/favicon.svg onload=alert(1)>')")
    with pytest.raises(AssertionError):
        watch.check(tab, "control")
    assert watch.dialogs == ["control"] and any(PROBE in r for r in watch.requests)
    assert any("script-src" in v for v in tab.evaluate("window.__csp"))
