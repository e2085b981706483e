"""The dashboard page, its htmx body, its JSON, and the promise that every number links to the list explaining it."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.factories import make_ticket
from tickettracker.cockpit.dashboard import dashboard_data
from tickettracker.cockpit.incidents import incident_backlog
from tickettracker.cockpit.present import present
from tickettracker.cockpit.scope import CockpitFilters
from tickettracker.core.vocabulary import SyncStatus
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncRun
from tickettracker.web.views.cockpit import tracker_link

UTC = timezone.utc
EVIL = "</script><script>alert(1)</script>"
STATUSES = {"freshservice": ["open", "pending", "resolved", "closed"], "freshdesk": ["open", "pending", "closed"],
            "jira": ["todo", "in_progress", "done"]}


def random_item(rng: random.Random, n: int, now: datetime) -> dict:
    """Return the fields of a plausible item whose times keep well away from every KPI edge."""
    source = rng.choice(["freshservice", "freshdesk", "jira"])
    status = rng.choice(STATUSES[source])
    created = now - timedelta(hours=24 * rng.randint(0, 95) + 12)
    done = status in ("resolved", "closed", "done")
    priority = rng.choice([(1, "Low"), (2, "Medium"), (4, "Urgent"), (None, None)])
    return {
        "source": source, "kind": "jira_issue" if source == "jira" else rng.choice(["incident", "service_request"]),
        "status_category": status, "priority_code": priority[0], "priority_label": priority[1],
        "group_name": None if source == "jira" else rng.choice(["Service Desk", "Network", EVIL]),
        "project": rng.choice(["OPS", "ENG", EVIL, None]) if source == "jira" else None,
        "assignee": rng.choice([None, "", "amy", "bob"]), "created_at": created,
        "updated_at": now - timedelta(hours=rng.choice([1, 30, 100, 200])),
        "due_by": now + timedelta(hours=rng.choice([-50, -5, 5, 20, 30, 100])) if rng.random() < .8 else None,
        "fr_due_by": now + timedelta(hours=rng.choice([-30, -2, 3, 40])) if rng.random() < .6 else None,
        "first_responded_at": created + timedelta(hours=1) if rng.random() < .4 else None,
        "resolved_at": min(created + timedelta(hours=rng.randint(1, 900)), now - timedelta(hours=1)) if done else None,
        "is_escalated": rng.random() < .2, "is_deleted": rng.random() < .05, "is_spam": rng.random() < .03,
    }


@pytest.fixture()
def varied(app):
    """About a hundred random items around the real current time."""
    now = datetime.now(UTC)
    rng = random.Random(20261104)
    with app.app_context():
        db.session.add_all(make_ticket(n, **random_item(rng, n, now)) for n in range(110))
        db.session.commit()
    return app


def list_count(client, url: str) -> int:
    """Return how many items the tracker list at url holds (through the JSON API)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query), view=parts.path.strip("/"), limit="500")
    body = client.get("/api/tickets", query_string=params).get_json()
    assert body["next"] is None, body
    return len(body["items"])


@pytest.mark.parametrize("args", [{}, {"source": "freshdesk", "group": "Network", "period": "7"},
                                  {"source": "jira", "project": "OPS", "period": "90"}, {"group": EVIL}])
def test_every_number_links_to_the_list_that_explains_it(varied, client, args):
    with varied.test_request_context():
        board = present(dashboard_data(CockpitFilters.from_args(args)), tracker_link)
    checked = 0
    for section in board["sections"]:
        tiles = {t["key"]: t for t in section["tiles"]}
        for key, t in tiles.items():
            expected = tiles["resolved"]["value"] if key.startswith("ttr_") else tiles["wip"]["value"] \
                if key.startswith("wip_") else t["value"]
            assert list_count(client, t["url"]) == expected, (section["key"], key, t["url"])
            checked += 1
        for c in section["charts"]:
            for s in c["series"]:
                for value, link in zip(s["values"], s["links"], strict=True):
                    if link:
                        assert list_count(client, link) == value, (c["key"], s["name"], link)
                        checked += 1
    assert checked > 20
    assert any(t["value"] for section in board["sections"] for t in section["tiles"])


def test_dashboard_is_the_home_page(varied, client):
    page = client.get("/").get_data(as_text=True)
    assert '<div id="dashboard-body"' in page and 'data-refresh-url="/"' in page
    assert re.search(r'<a href="/"\s+aria-current="page">Dashboard</a>', page)
    assert page.count('<li class="tile') == 16 and page.count('data-kpi="') == 16
    assert all(f'data-kpi="{key}"' in page for key in ("open", "overdue", "at_risk", "fr_overdue", "ttr_p90", "stuck"))
    assert page.count("<canvas") == 8, "the trends are rebuilt from the items' dates before any snapshot"
    assert page.count("data-chart-spec='") == 8 and "No open incident is linked" in page  # nothing waits
    assert "vendor/chart-4.6.1.umd.min.js" in page and "cockpit.js" in page
    assert page.count("<caption>") == 8 and 'scope="row"' in page


def test_no_inline_script_and_no_inline_style(varied, client):
    page = client.get("/").get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag, tag
    assert " style=" not in page and not re.search(r"\son[a-z]+=", page)


def test_htmx_gets_only_the_body_with_its_refresh_url(varied, client):
    response = client.get("/?source=freshdesk&period=7&group=Network", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith("{#") is False and "<html" not in body
    assert body.lstrip().startswith('<div id="dashboard-body"')
    assert 'data-refresh-url="/?source=freshdesk&amp;group=Network&amp;period=7"' in body
    # only the freshness of the Jira data behind "waiting on development" is shown, no Jira section
    assert "Jira" not in re.sub(r'<option.*?</option>|<p class="stamp stamp-extra.*?</p>', "", body, flags=re.S)


def test_vendor_text_is_escaped_everywhere(varied, client):
    page = client.get("/").get_data(as_text=True)
    assert EVIL not in page and "<script>alert(1)" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the group menu
    specs = re.findall(r"data-chart-spec='([^']*)'", page)
    assert len(specs) == 8 and all("<" not in spec and ">" not in spec for spec in specs)
    assert any("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in spec for spec in specs)  # Jira project label


def test_bad_filters_are_explained(client):
    page = client.get("/?period=13")
    assert page.status_code == 400 and "period must be one of 7, 30, 90" in page.get_data(as_text=True)
    api = client.get("/api/cockpit/data?source=zendesk")
    assert api.status_code == 400 and "source must be one of" in api.get_json()["error"]


def test_json_has_the_same_numbers(varied, client):
    body = client.get("/api/cockpit/data?source=freshdesk").get_json()
    with varied.app_context():
        expected = incident_backlog(CockpitFilters(source="freshdesk"), datetime.now(UTC))
    assert body["jira"] is None and body["filters"]["source"] == "freshdesk"
    assert body["incidents"]["backlog"]["total"] == {
        "open": expected["total"]["open"], "overdue": expected["total"]["overdue"],
        "atRisk": expected["total"]["at_risk"], "frOverdue": expected["total"]["fr_overdue"],
        "unassigned": expected["total"]["unassigned"], "escalated": expected["total"]["escalated"]}
    assert len(body["incidents"]["flow"]) == 12 and body["incidents"]["stamp"]["stale"] is True


def test_tiles_carry_the_trust_stamp(app, client):
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add(SyncRun(id="a1b2c3d4e5f6", type="Incidents", status=int(SyncStatus.COMPLETED),
                               queued_at=now - timedelta(minutes=6), finished_at=now - timedelta(minutes=5)))
        db.session.commit()
    page = client.get("/").get_data(as_text=True)
    incidents, jira = page.split('id="section-jira"')
    assert "run #a1b2c3d4" in incidents and "is-stale" not in incidents
    assert incidents.count('class="stamp"') >= 10
    assert jira.count("no successful sync yet") >= 5 and "is-stale" in jira and "Stale data." in jira


def test_tracker_accepts_the_cockpit_filters(app, client):
    now = datetime.now(UTC)
    with app.app_context():
        db.session.add_all([make_ticket(1, created_at=now - timedelta(days=1, hours=12)),
                            make_ticket(2, created_at=now - timedelta(days=20)),
                            make_ticket(3, created_at=now - timedelta(days=40), assignee="amy")])
        db.session.commit()
    day = (now - timedelta(days=20)).date().isoformat()

    def keys(query: str) -> set[str]:
        return {item["externalId"] for item in client.get(f"/api/tickets?view=incidents&{query}").get_json()["items"]}

    assert keys("age=0-2") == {"1"} and keys("age=over-30") == {"3"} and keys("unassigned=1") == {"1", "2"}
    assert keys(f"created_from={day}&created_to={day}") == {"2"}
    assert client.get("/api/tickets?view=incidents&age=old").status_code == 400
    assert "created_to must be a date" in client.get("/api/tickets?created_to=yesterday").get_json()["error"]


def test_tracker_shows_and_keeps_the_dashboard_filters(app, client):
    page = client.get("/incidents?at_risk=1&resolved_from=2026-11-01&resolved_to=2026-11-07&status=open")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Also filtered by:" in body and "Due within 24 h" in body and "Resolved from: 2026-11-01" in body
    assert '<input type="hidden" name="at_risk" value="1">' in body
    assert '<input type="hidden" name="resolved_to" value="2026-11-07">' in body
    assert "Also filtered by:" not in client.get("/incidents?status=open").get_data(as_text=True)


def test_history_restore_gets_the_full_page(client):
    response = client.get("/?period=7", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True) and "HX-Request" in response.headers["Vary"]


def test_trends_say_when_they_ignore_the_group_or_project(varied, client):
    with varied.test_request_context():
        board = present(dashboard_data(CockpitFilters(group="Network", project="OPS")), tracker_link)
    notes = {c["key"]: c["note"] for section in board["sections"] for c in section["charts"]}
    assert notes["fw-trend"].startswith("All groups") and notes["jira-trend"].startswith("All projects")
    assert notes["fw-flow"] == "" and notes["jira-status"] == ""


def test_filter_menus_keep_a_chosen_value_the_cache_does_not_know(client):
    page = client.get("/?group=Gone%20team").get_data(as_text=True)
    assert '<option value="Gone team" selected>Gone team</option>' in page
