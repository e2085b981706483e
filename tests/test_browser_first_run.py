"""The first demo start as a newcomer sees it: `python app.py` (launcher, simulator, web, worker, scheduler as real
processes) and a Chromium that signs in with the printed demo password and sees data without clicking anything."""

from __future__ import annotations

import re
import sys

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live import ARTIFACTS, Processes, free_port, launch_chromium, login, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PASSWORD = re.compile(r"demo sign-in \([^)]*\): username (\S+)\s+password (\S+)")


@pytest.fixture()
def launcher(app, app_config, tmp_path):
    """`python app.py` in demo mode on the test's database and Redis; every child stopped afterwards."""
    port = free_port()
    env = {**app_config, "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "warning", "WEB_CONCURRENCY": "1",
           "WORKER_PROCESSES": "2"}
    env.pop("DEMO_MODE")
    (tmp_path / "logs").mkdir()
    procs = Processes(env, tmp_path / "logs")
    procs.start("launcher", [sys.executable, "app.py"])
    try:
        wait_until(lambda: "ready: open" in procs.log("launcher"), timeout=120, what="the launcher to be ready")
        yield f"http://127.0.0.1:{port}", procs
    finally:
        procs.stop_all()


def test_the_first_demo_start_shows_data_without_a_click(launcher):
    base, procs = launcher
    log = procs.log("launcher")
    assert "DEMO MODE" in log and "sync of Incidents and JIRA is queued" in log, log
    username, password = PASSWORD.search(log).groups()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=base)
            login(page, base, username, password)
            expect(page.locator(".banner-demo")).to_contain_text("sync of every type starts with the app")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "first-run-dashboard-at-sign-in.png"), full_page=True)
            open_tile = page.locator("[data-kpi='open'] .tile-value").first
            expect(open_tile).not_to_have_text("0", timeout=240_000)
            expect(page.locator(".section-empty")).to_have_count(0, timeout=240_000)
            page.screenshot(path=str(ARTIFACTS / "first-run-dashboard-filled.png"), full_page=True)
            page.goto("/incidents")
            expect(page.locator("#ticket-rows tr:not(.more-row)")).to_have_count(50)
        finally:
            browser.close()
