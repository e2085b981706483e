"""Server side of the live UI: sync bar from the database, htmx fragments, history, run page, escaping, CSP rules."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from tests.factories import add_tickets
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.sync import runs

PAGES = ("/incidents", "/development", "/sync", "/")


class _Inline(HTMLParser):
    """Collects inline scripts, inline event handlers and inline styles."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.meta_config: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") not in ("application/json",):
            self.problems.append(f"inline <script> {names}")
        inline = [k for k in names if k.startswith(("on", "hx-on")) or k == "style"]
        self.problems += [f"<{tag} {k}=…>" for k in inline]
        if tag == "meta" and names.get("name") == "htmx-config":
            self.meta_config = names.get("content")


def _run(sync_type: str, status: SyncStatus, **values) -> str:
    result = runs.create_run(sync_type, "manual", "alice")
    run_id = result.run.id
    if status == SyncStatus.RUNNING:
        runs.mark_running(run_id)
        runs.record_progress(run_id, values.pop("progress", 40), values.pop("message", "Page 2"), values)
    elif status != SyncStatus.QUEUED:
        runs.mark_running(run_id)
        runs.finish(run_id, status, values.pop("message", "Done"), error=values.pop("error", None), counts=values)
    return run_id


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_handler_or_style_and_a_safe_htmx_config(client, path):
    response = client.get(path)
    assert response.status_code == 200
    parser = _Inline()
    parser.feed(response.get_data(as_text=True))
    assert parser.problems == []
    config = json.loads(parser.meta_config or "{}")
    assert config["allowEval"] is False and config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True and config["includeIndicatorStyles"] is False
    html = response.get_data(as_text=True)
    # Never in a shared cache; a cached page (ETag) may be kept by the browser but is revalidated every time.
    assert response.headers["Cache-Control"] in ("no-store", "private, no-cache")
    assert html.count('sse-connect="/events"') == 1 and 'sse-swap="sync-ui" hx-swap="none"' in html


def test_page_loaded_mid_sync_shows_the_running_state_and_only_that_type_disabled(app, client):
    with app.app_context():
        run_id = _run("Incidents", SyncStatus.RUNNING, progress=40, fetched=12)
    html = client.get("/incidents").get_data(as_text=True)
    widget = re.search(r'<div id="sync-status-Incidents".*?</div>\s*</div>', html, re.S).group(0)
    assert f'data-state="{SyncStatus.RUNNING.slug}"' in widget and 'value="40"' in widget and "12 fetched" in widget
    assert re.search(r'id="sync-btn-Incidents"[^>]*\sdisabled[\s>]', widget)
    assert f'/api/sync/jobs/{run_id}/cancel' in widget
    jira = client.get("/development").get_data(as_text=True)
    assert not re.search(r'id="sync-btn-JIRA"[^>]*\sdisabled[\s>]', jira)
    assert '<div class="sync-slot with-button">\n' in jira and 'id="sync-btn-JIRA"' in jira


def test_each_tracker_page_offers_only_its_own_sync_button(client):
    incidents = client.get("/incidents").get_data(as_text=True)
    slots = re.findall(r'<div class="sync-slot( with-button)?">\s*<div id="sync-status-(\w+)"', incidents)
    assert ("", "JIRA") in slots and (" with-button", "Incidents") in slots
    sync_page = client.get("/sync").get_data(as_text=True)
    assert sync_page.count('class="sync-slot with-button"') == 3  # Incidents, JIRA and the at-risk refresh


def test_htmx_gets_the_table_fragment_and_history_restore_gets_the_full_page(app, client):
    with app.app_context():
        add_tickets(3)
    fragment = client.get("/incidents?sort=priority", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<section id=\"ticket-table\"") and "<html" not in fragment
    assert 'id="sort-state" hx-swap-oob="true"' in fragment and 'value="priority"' in fragment
    restore = client.get("/incidents?sort=priority", headers={"HX-Request": "true",
                                                             "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)
    assert "HX-Request" in restore.headers["Vary"]


def test_assignee_filter_is_offered_and_applied(app, client):
    with app.app_context():
        add_tickets(4)
        add_tickets(2, start=10, assignee="Dana Scully")
    html = client.get("/incidents").get_data(as_text=True)
    assert '<option value="Dana Scully"' in html
    rows = client.get("/incidents?assignee=Dana+Scully", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert rows.count("<td class=\"key\">") == 2


def test_bad_filter_shows_the_error_state_not_a_crash(client):
    response = client.get("/incidents?sort=bogus")
    assert response.status_code == 400 and "These filters cannot be applied" in response.get_data(as_text=True)


def test_vendor_and_error_text_is_escaped_everywhere(app, client):
    evil = '<img src=x onerror="alert(1)">'
    with app.app_context():
        add_tickets(1, subject=evil)
        run_id = _run("JIRA", SyncStatus.FAILED, error=evil, message=evil)
        runs.append_log(run_id, "error", evil)
    for path in ("/incidents", f"/sync/runs/{run_id}", "/sync", "/development"):
        html = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html, path
    assert "&lt;img src=x" in client.get(f"/sync/runs/{run_id}").get_data(as_text=True)


def test_history_filters_and_cursor_pages(app, client):
    with app.app_context():
        for _ in range(3):
            _run("JIRA", SyncStatus.COMPLETED, fetched=5)
        _run("Incidents", SyncStatus.FAILED, error="HTTP 401 from Freshdesk")
    completed = f"run-status-{SyncStatus.COMPLETED.slug}"
    page = client.get("/sync").get_data(as_text=True)
    assert page.count(completed) == 3 and "HTTP 401 from Freshdesk" in page
    failed = client.get(f"/sync?status={SyncStatus.FAILED.slug}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert failed.count("<tr>") == 1 + 1 and completed not in failed
    first = client.get("/sync?type=JIRA&limit=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    more = re.search(r'hx-get="([^"]*cursor=[^"]*)"', first).group(1).replace("&amp;", "&")
    rest = client.get(more, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert rest.count(completed) == 1 and "<table" not in rest
    assert client.get("/sync?status=bogus").status_code == 400


def test_run_page_shows_facts_and_log_and_404_for_unknown(app, client):
    with app.app_context():
        run_id = _run("JIRA", SyncStatus.FAILED, error="Jira said 401: bad token", fetched=3)
        runs.append_log(run_id, "error", "Jira said 401: bad token")
    html = client.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert SyncStatus.FAILED.label in html and html.count("Jira said 401: bad token") == 2 and "alice" in html
    assert 'data-refresh-job="' + run_id in html
    assert client.get("/sync/runs/nope").status_code == 404
