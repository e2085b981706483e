"""The dashboard in headless Chromium: charts drawn in both themes, no console errors, screenshots for review."""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright import sync_api
from werkzeug.serving import make_server

from tests.factories import make_ticket
from tests.live import ADMIN, ensure_user, login
from tests.test_cockpit_views import random_item
from tickettracker.cockpit.snapshots import take_snapshot
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

CANVAS_INK = """canvas => {
  const ctx = canvas.getContext("2d");
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { ink += 1; } }
  return ink / (canvas.width * canvas.height);
}"""


@pytest.fixture()
def live_url(app):
    """Serve the app on a free local port in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def seed(app) -> None:
    """Random items, a fresh helpdesk sync, a failed Jira sync, and 30 days of snapshots for the trends."""
    now = datetime.now(timezone.utc)
    rng = random.Random(42)
    with app.app_context():
        db.session.add_all(make_ticket(n, **random_item(rng, n, now)) for n in range(400))
        db.session.add_all([
            SyncRun(id="5e1f0c2a9b7d", type="Incidents", status=int(SyncStatus.COMPLETED),
                    queued_at=now - timedelta(minutes=12), finished_at=now - timedelta(minutes=10)),
            SyncRun(id="0aa1b2c3d4e5", type="JIRA", status=int(SyncStatus.COMPLETED),
                    queued_at=now - timedelta(hours=5), finished_at=now - timedelta(hours=5)),
            SyncRun(id="f00dfeedbeef", type="JIRA", status=int(SyncStatus.FAILED),
                    queued_at=now - timedelta(minutes=30), finished_at=now - timedelta(minutes=29))])
        db.session.commit()
        for back in range(30, 0, -1):
            take_snapshot("daily", now=now - timedelta(days=back))


def wait_for(page, script: str, arg=None, timeout: float = 15.0) -> None:
    """Poll a page function until it returns true (page.evaluate: the strict CSP forbids wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        page.wait_for_timeout(100)


def wait_for_charts(page, theme: str, count: int) -> None:
    """Wait until every chart is drawn in the given theme."""
    wait_for(page, "([theme, count]) => document.querySelectorAll(`figure[data-drawn-theme='${theme}']`).length"
                   " === count", [theme, count])


def check_canvases(page) -> list[float]:
    """Return the share of painted pixels of every chart canvas."""
    return [canvas.evaluate(CANVAS_INK) for canvas in page.query_selector_all("figure[data-chart] canvas")]


def test_dashboard_charts_in_light_and_dark(app, live_url):
    seed(app)
    ensure_user(app, ADMIN[0], ADMIN[1], "admin")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless", "--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1360, "height": 900}, color_scheme="light")
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_url)
        page.goto(live_url + "/")
        assert page.get_attribute("html", "data-theme") == "light"
        wait_for_charts(page, "light", 8)
        light = check_canvases(page)
        page.screenshot(path=str(ARTIFACTS / "dashboard-light.png"), full_page=True)
        first = page.locator("figure[data-chart]").first
        first.locator("summary").click()
        assert first.locator("table a").count() > 0
        first.screenshot(path=str(ARTIFACTS / "dashboard-table-light.png"))
        first.locator("summary").click()

        page.click("[data-theme-toggle]")
        wait_for_charts(page, "dark", 8)
        dark = check_canvases(page)
        page.screenshot(path=str(ARTIFACTS / "dashboard-dark.png"), full_page=True)
        assert page.evaluate("localStorage.getItem('tickettracker-theme')") == "dark"

        assert page.locator(".stale-note").count() == 1  # Jira only: its last run failed
        with app.app_context():
            now = datetime.now(timezone.utc)
            db.session.add(SyncRun(id="badc0ffee000", type="Incidents", status=int(SyncStatus.FAILED),
                                   queued_at=now, finished_at=now))
            db.session.commit()
            generations.bump(generations.RUNS)  # as runs.finish does: the dashboard is cached per generation
        page.evaluate(f"""() => document.dispatchEvent(new CustomEvent('tt:sync-status',
            {{detail: {{jobId: 'badc0ffee000', type: 'Incidents', status: {int(SyncStatus.FAILED)}}}}}))""")
        wait_for(page, "() => document.querySelectorAll('.stale-note').length === 2")
        wait_for_charts(page, "dark", 8)

        page.select_option("select[name=source]", "jira")
        page.wait_for_url("**/?source=jira*")
        wait_for_charts(page, "dark", 4)
        page.evaluate("""() => { const body = document.getElementById('dashboard-body');
            htmx.ajax('GET', body.dataset.refreshUrl, {target: '#dashboard-body', swap: 'outerHTML'}); }""")
        page.wait_for_timeout(300)
        wait_for_charts(page, "dark", 4)
        page.screenshot(path=str(ARTIFACTS / "dashboard-dark-jira.png"), full_page=True)
        browser.close()
    assert len(light) == 8 and all(share > 0.01 for share in light), light
    assert len(dark) == 8 and all(share > 0.01 for share in dark), dark
    assert errors == []
