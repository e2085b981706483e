"""The vendor simulator over real HTTP: the fake-server checklist (§8) of the vendor API spec."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from vendorsim import VendorSimulator

UTC = timezone.utc
OLD = "2000-01-01T00:00:00Z"
JIRA_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0530$")
FW_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def sim():
    """One Cloud-flavoured simulator with small data for the whole module."""
    with VendorSimulator(seed=7, sizes={"freshservice": 400, "freshdesk": 400, "jira": 300}) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def dc_sim():
    """A Jira Data Center flavoured simulator."""
    with VendorSimulator(seed=3, sizes={"freshservice": 5, "freshdesk": 5, "jira": 250}, jira_flavour="dc",
                         jira_timezone="America/Los_Angeles") as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def clean(request):
    """Undo faults, budgets and quirks a test switched on."""
    yield
    for name in ("sim", "dc_sim"):
        if name not in request.fixturenames:
            continue
        simulator = request.getfixturevalue(name)
        simulator.timeout_sleep = 5.0
        for vendor in ("freshservice", "freshdesk", "jira"):
            control = simulator.vendor(vendor)
            control.clear_faults()
            control.set_rate_limit(None, 60)
            control.set_list_rate_limit(None)
            control.set_bad_token(False)
            control.set_consistency_delay(0)
            control.reset_counts()
        simulator.vendor("jira").stale_token_on_last_page = False


def auth_for(simulator, vendor):
    """Valid credentials for a vendor."""
    creds = simulator.credentials[vendor]
    if vendor == "jira":
        return creds["email"], creds["api_token"]
    return creds["api_key"], "X"


def get(simulator, vendor, path, params=None, auth="ok", **kwargs):
    """GET a vendor path with valid credentials unless told otherwise."""
    timeout = kwargs.pop("timeout", 10)
    credentials = auth_for(simulator, vendor) if auth == "ok" else auth
    return requests.get(simulator.base_urls[vendor] + path, params=params, auth=credentials, timeout=timeout, **kwargs)


def walk(simulator, vendor, params):
    """Follow Link rel=next from the first tickets page; return (ids in order, number of pages)."""
    response = get(simulator, vendor, "/api/v2/tickets", params)
    ids, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        tickets = body["tickets"] if vendor == "freshservice" else body
        ids += [str(ticket["id"]) for ticket in tickets]
        pages += 1
        if "next" not in response.links:
            return ids, pages
        response = requests.get(response.links["next"]["url"], auth=auth_for(simulator, vendor), timeout=10)


def fw_time(text):
    """Parse a Freshworks timestamp."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def jira_time(text):
    """Parse a Jira timestamp with a colon-less offset."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def recent_ids(truth, slack=120, **match):
    """Ids created within 30 days (excluding ones within `slack` s of the boundary); and the ambiguous ones."""
    floor = datetime.now(UTC) - timedelta(days=30)
    inside, edge = set(), set()
    for key, item in truth.items():
        if any(item.get(field) != value for field, value in match.items()):
            continue
        created = fw_time(item["created_at"])
        if abs((created - floor).total_seconds()) < slack:
            edge.add(key)
        elif created > floor:
            inside.add(key)
    return inside, edge


def jira_search(simulator, jql, auth="ok", **params):
    """GET /rest/api/3/search/jql."""
    return get(simulator, "jira", "/rest/api/3/search/jql", {"jql": jql, **params}, auth=auth)


def jira_keys(simulator, jql, fields="updated"):
    """All keys a query returns, following nextPageToken."""
    keys, token = [], None
    while True:
        params = {"maxResults": 100, "fields": fields, **({"nextPageToken": token} if token else {})}
        body = jira_search(simulator, jql, **params).json()
        keys += [issue["key"] for issue in body["issues"]]
        if body["isLast"]:
            return keys
        token = body["nextPageToken"]


# ----- Freshservice -------------------------------------------------------------------------------------------------
def test_freshservice_auth_any_password_else_401(sim):
    key = sim.credentials["freshservice"]["api_key"]
    for credentials in (None, ("wrong-key", "X"), (key + "x", key)):
        response = get(sim, "freshservice", "/api/v2/tickets", auth=credentials)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
        assert response.headers["X-Freshservice-Api-Version"] == "latest=v2; requested=v2"
    for password in ("X", "", "anything at all"):
        response = get(sim, "freshservice", "/api/v2/tickets", auth=(key, password))
        assert response.status_code == 200
        assert {"X-RateLimit-Total", "X-RateLimit-Remaining", "X-RateLimit-Used-CurrentRequest"} <= set(
            response.headers)


def test_freshservice_default_window_is_30_days_created_primary_workspace_desc(sim):
    truth = sim.vendor("freshservice").truth()
    inside, edge = recent_ids(truth, workspace_id=2)
    ids, _ = walk(sim, "freshservice", {"per_page": 100})
    assert set(ids) - edge == inside
    older = {key for key, item in truth.items() if item["workspace_id"] == 2} - inside - edge
    assert older, "the window must hide something for the trap to be observable"
    created = [truth[key]["created_at"] for key in ids]
    assert created == sorted(created, reverse=True)
    ascending, _ = walk(sim, "freshservice", {"per_page": 100, "order_type": "asc"})
    assert [truth[key]["created_at"] for key in ascending] == sorted(created)


@pytest.mark.parametrize("vendor", ["freshservice", "freshdesk"])
def test_freshworks_per_page_and_param_validation(sim, vendor):
    for bad in ("0", "101", "abc", "-1"):
        response = get(sim, vendor, "/api/v2/tickets", {"per_page": bad})
        assert response.status_code == 400
        body = response.json()
        assert body["description"] == "Validation failed"
        assert body["errors"][0]["field"] == "per_page" and body["errors"][0]["code"] == "invalid_value"
    assert get(sim, vendor, "/api/v2/tickets", {"per_page": "100"}).status_code == 200
    assert get(sim, vendor, "/api/v2/tickets", {"page": "0"}).json()["errors"][0]["field"] == "page"
    assert get(sim, vendor, "/api/v2/tickets", {"order_type": "up"}).status_code == 400
    assert get(sim, vendor, "/api/v2/tickets", {"updated_since": "yesterday"}).status_code == 400
    unknown = get(sim, vendor, "/api/v2/tickets", {"bogus": "1"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["code"] == "invalid_field"


def test_freshservice_link_header_pages_cover_every_workspace(sim):
    truth = sim.vendor("freshservice").truth()
    first = get(sim, "freshservice", "/api/v2/tickets", {"workspace_id": 0, "updated_since": OLD, "per_page": 37})
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and "page=2" in link
    assert "updated_since=2000-01-01T00%3A00%3A00Z" in link and "workspace_id=0" in link
    ids, pages = walk(sim, "freshservice", {"workspace_id": 0, "updated_since": OLD, "per_page": 37})
    assert len(ids) == len(set(ids)) and set(ids) == set(truth)
    assert pages == -(-len(truth) // 37)
    last_page = get(sim, "freshservice", "/api/v2/tickets",
                    {"workspace_id": 0, "updated_since": OLD, "per_page": 37, "page": pages})
    assert "Link" not in last_page.headers and last_page.json()["tickets"]
    exact = {"workspace_id": 0, "updated_since": OLD, "per_page": 1}
    assert "Link" in get(sim, "freshservice", "/api/v2/tickets", {**exact, "page": len(truth) - 1}).headers
    full_last = get(sim, "freshservice", "/api/v2/tickets", {**exact, "page": len(truth)})
    assert "Link" not in full_last.headers and len(full_last.json()["tickets"]) == 1
    beyond = get(sim, "freshservice", "/api/v2/tickets", {**exact, "page": len(truth) + 1})
    assert beyond.status_code == 200 and beyond.json() == {"tickets": []}


def test_freshservice_workspaces(sim):
    truth = sim.vendor("freshservice").truth()
    by_workspace = {}
    for workspace in (None, 2, 3, 4):
        params = {"updated_since": OLD, "per_page": 100, **({"workspace_id": workspace} if workspace else {})}
        by_workspace[workspace] = set(walk(sim, "freshservice", params)[0])
    assert by_workspace[None] == by_workspace[2] == {k for k, v in truth.items() if v["workspace_id"] == 2}
    assert by_workspace[3] and by_workspace[4]
    assert by_workspace[2] | by_workspace[3] | by_workspace[4] == set(truth)
    everything = get(sim, "freshservice", "/api/v2/tickets", {"workspace_id": 0, "updated_since": OLD}).json()
    assert all("custom_date" not in ticket["custom_fields"] for ticket in everything["tickets"])
    assert get(sim, "freshservice", "/api/v2/tickets", {"workspace_id": 99}).status_code == 400


def test_freshservice_deleted_and_spam_filters_and_delete_restore(sim):
    control = sim.vendor("freshservice")
    deleted = set(control.mutate(3, seed=11, kinds=("delete",)))
    spam = set(control.mutate(3, seed=12, kinds=("spam",)))
    assert deleted <= control.deleted_ids() and spam <= control.spam_ids()
    base = {"workspace_id": 0, "updated_since": OLD, "per_page": 100}
    listed = set(walk(sim, "freshservice", base)[0])
    assert not (deleted | spam) & listed
    trashed = get(sim, "freshservice", "/api/v2/tickets", {**base, "filter": "deleted"}).json()["tickets"]
    assert deleted <= {str(t["id"]) for t in trashed} and all(t["deleted"] for t in trashed)
    junk = get(sim, "freshservice", "/api/v2/tickets", {**base, "filter": "spam"}).json()["tickets"]
    assert spam <= {str(t["id"]) for t in junk} and all(t["spam"] for t in junk)
    assert not (deleted | spam) & set(control.truth())
    victim = sorted(listed)[0]
    url = f"{sim.base_urls['freshservice']}/api/v2/tickets/{victim}"
    assert requests.delete(url, auth=auth_for(sim, "freshservice"), timeout=5).status_code == 204
    assert victim in control.deleted_ids() and victim not in control.truth()
    assert requests.put(url + "/restore", auth=auth_for(sim, "freshservice"), timeout=5).status_code == 204
    assert victim in control.truth()


def test_freshservice_include_costs_extra_credits(sim):
    plain = get(sim, "freshservice", "/api/v2/tickets")
    assert plain.headers["X-RateLimit-Used-CurrentRequest"] == "1"
    with_stats = get(sim, "freshservice", "/api/v2/tickets", {"include": "stats"})
    assert with_stats.headers["X-RateLimit-Used-CurrentRequest"] == "3"
    assert all("stats" in ticket for ticket in with_stats.json()["tickets"])
    both = get(sim, "freshservice", "/api/v2/tickets", {"include": "stats,requester"})
    assert both.headers["X-RateLimit-Used-CurrentRequest"] == "5"
    assert all("@" in ticket["requester"]["email"] for ticket in both.json()["tickets"])
    bad = get(sim, "freshservice", "/api/v2/tickets", {"include": "bogus"})
    assert bad.status_code == 400 and "It should be one of these values" in bad.json()["errors"][0]["message"]
    assert all("tags" not in ticket for ticket in plain.json()["tickets"])


# ----- Freshdesk ----------------------------------------------------------------------------------------------------
def test_freshdesk_bare_array_description_only_on_include_and_cf_fields(sim):
    plain = get(sim, "freshdesk", "/api/v2/tickets", {"updated_since": OLD, "per_page": 100})
    assert isinstance(plain.json(), list) and plain.json()
    assert plain.headers["X-Request-Id"]
    assert all("description" not in t and "description_text" not in t for t in plain.json())
    full = get(sim, "freshdesk", "/api/v2/tickets", {"updated_since": OLD, "include": "description"}).json()
    assert all("description" in t and "description_text" in t for t in full)
    truth = sim.vendor("freshdesk").truth()
    types = set()
    for ticket in truth.values():
        assert all(key.startswith("cf_") for key in ticket["custom_fields"])
        types |= {type(value).__name__ for value in ticket["custom_fields"].values()}
        assert FW_TS.match(ticket["updated_at"]) and FW_TS.match(ticket["created_at"])
    assert {"bool", "str", "int", "float", "NoneType"} <= types
    statuses = {ticket["status"] for ticket in truth.values()}
    assert statuses & {6, 7, 12}, "custom/unknown status codes must occur"


def test_freshdesk_300_page_wall(sim):
    expected = {"description": "Validation failed", "errors": [{
        "field": "page", "code": "invalid_value",
        "message": "You cannot access tickets beyond the 300th page. Please provide a smaller page number."}]}
    params = {"updated_since": OLD, "per_page": 1, "order_by": "updated_at", "order_type": "asc"}
    page_300 = get(sim, "freshdesk", "/api/v2/tickets", {**params, "page": 300})
    assert page_300.status_code == 200 and len(page_300.json()) == 1
    assert "page=301" in page_300.headers["Link"]
    wall = get(sim, "freshdesk", "/api/v2/tickets", {**params, "page": 301})
    assert wall.status_code == 400 and wall.json() == expected
    assert get(sim, "freshdesk", "/api/v2/tickets", {"page": 400, "per_page": 100}).json() == expected
    # Freshservice documents no hard cap
    assert get(sim, "freshservice", "/api/v2/tickets", {"page": 301, "per_page": 1}).status_code == 200


def test_freshdesk_order_by_updated_and_inclusive_updated_since(sim):
    params = {"updated_since": OLD, "order_by": "updated_at", "order_type": "asc", "per_page": 100}
    tickets = get(sim, "freshdesk", "/api/v2/tickets", params).json()
    stamps = [t["updated_at"] for t in tickets]
    assert stamps == sorted(stamps)
    boundary = tickets[50]
    since = get(sim, "freshdesk", "/api/v2/tickets", {**params, "updated_since": boundary["updated_at"]}).json()
    assert since[0]["updated_at"] == boundary["updated_at"]
    assert boundary["id"] in {t["id"] for t in since}
    local = fw_time(boundary["updated_at"]).astimezone(timezone(timedelta(hours=5, minutes=30)))
    shifted = get(sim, "freshdesk", "/api/v2/tickets",
                  {**params, "updated_since": local.isoformat()}).json()
    assert [t["id"] for t in shifted] == [t["id"] for t in since]
    by_date = get(sim, "freshdesk", "/api/v2/tickets", {"updated_since": boundary["updated_at"][:10]})
    assert by_date.status_code == 200
    descending = get(sim, "freshdesk", "/api/v2/tickets", {**params, "order_type": "desc"}).json()
    assert [t["updated_at"] for t in descending] == sorted((t["updated_at"] for t in descending), reverse=True)


def test_freshdesk_default_window_hides_older_tickets(sim):
    truth = sim.vendor("freshdesk").truth()
    inside, edge = recent_ids(truth)
    ids, _ = walk(sim, "freshdesk", {"per_page": 100})
    assert set(ids) - edge == inside
    assert len(truth) - len(inside) - len(edge) > 100


def test_freshdesk_exact_401_and_transient_403(sim):
    response = get(sim, "freshdesk", "/api/v2/tickets", auth=("nope", "X"))
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_credentials",
                               "message": "You have to be logged in to perform this action."}
    sim.vendor("freshdesk").inject("403", count=2)
    for _ in range(2):
        denied = get(sim, "freshdesk", "/api/v2/tickets")
        assert denied.status_code == 403
        assert denied.json() == {"code": "access_denied", "message": "You are not authorized to perform this action."}
    assert get(sim, "freshdesk", "/api/v2/tickets").status_code == 200


def test_freshdesk_spam_deleted_and_archived(sim):
    control = sim.vendor("freshdesk")
    spam = set(control.mutate(2, seed=5, kinds=("spam",)))
    deleted = set(control.mutate(2, seed=6, kinds=("delete",)))
    archived = set(control.mutate(2, seed=7, kinds=("archive",)))
    base = {"updated_since": OLD, "per_page": 100}
    listed = set(walk(sim, "freshdesk", base)[0])
    junk = get(sim, "freshdesk", "/api/v2/tickets", {**base, "filter": "spam"}).json()
    trash = get(sim, "freshdesk", "/api/v2/tickets", {**base, "filter": "deleted"}).json()
    assert spam <= {str(t["id"]) for t in junk} and all(t["spam"] for t in junk)
    assert deleted <= {str(t["id"]) for t in trash} and all(t["deleted"] is True for t in trash)
    for gone in archived:
        assert gone not in listed | {str(t["id"]) for t in junk + trash}
        assert gone not in control.truth() and gone in control.archived_ids()
        assert get(sim, "freshdesk", f"/api/v2/tickets/{gone}").status_code == 404
    assert not (spam | deleted) & listed


def test_freshdesk_per_endpoint_list_budget(sim):
    control = sim.vendor("freshdesk")
    control.set_list_rate_limit(2, window_seconds=60)
    assert [get(sim, "freshdesk", "/api/v2/tickets").status_code for _ in range(2)] == [200, 200]
    throttled = get(sim, "freshdesk", "/api/v2/tickets")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert get(sim, "freshdesk", "/api/v2/ticket_fields").status_code == 200


# ----- Freshworks agent and group directories ----------------------------------------------------------------------
def walk_directory(simulator, vendor, path, per_page):
    """Every row of a directory endpoint following Link rel=next; also the number of pages."""
    key = path.rsplit("/", 1)[-1]
    response = get(simulator, vendor, path, {"per_page": per_page})
    rows, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body[key] if vendor == "freshservice" else body
        pages += 1
        if "next" not in response.links:
            return rows, pages
        assert f"per_page={per_page}" in response.links["next"]["url"]
        response = requests.get(response.links["next"]["url"], auth=auth_for(simulator, vendor), timeout=10)


@pytest.mark.parametrize("vendor", ["freshservice", "freshdesk"])
def test_freshworks_directories_resolve_every_ticket_reference(sim, vendor):
    truth = sim.vendor(vendor).truth()
    groups, group_pages = walk_directory(sim, vendor, "/api/v2/groups", 3)
    agents, agent_pages = walk_directory(sim, vendor, "/api/v2/agents", 7)
    assert group_pages > 1 and agent_pages > 1
    assert len({g["id"] for g in groups}) == len(groups) and all(g["name"] for g in groups)
    assert len({a["id"] for a in agents}) == len(agents)
    used_groups = {t["group_id"] for t in truth.values()} - {None}
    used_agents = {t["responder_id"] for t in truth.values()} - {None}
    assert used_groups and used_groups <= {g["id"] for g in groups}
    assert used_agents and used_agents <= {a["id"] for a in agents}
    if vendor == "freshservice":
        assert all(a["first_name"] and a["last_name"] and "@" in a["email"] for a in agents)
        assert isinstance(get(sim, vendor, "/api/v2/groups").json(), dict)
    else:
        assert all(a["contact"]["name"] and "@" in a["contact"]["email"] for a in agents)
        assert isinstance(get(sim, vendor, "/api/v2/agents").json(), list)


@pytest.mark.parametrize("vendor", ["freshservice", "freshdesk"])
def test_freshworks_directories_need_auth_validate_paging_and_spend_budget(sim, vendor):
    assert get(sim, vendor, "/api/v2/agents", auth=("wrong-key", "X")).status_code == 401
    assert get(sim, vendor, "/api/v2/groups", {"per_page": 101}).status_code == 400
    assert get(sim, vendor, "/api/v2/agents", {"page": 0}).status_code == 400
    control = sim.vendor(vendor)
    control.set_rate_limit(2, 60)
    first = get(sim, vendor, "/api/v2/groups")
    assert first.status_code == 200 and "X-RateLimit-Remaining" in first.headers
    assert get(sim, vendor, "/api/v2/agents").status_code == 200
    throttled = get(sim, vendor, "/api/v2/agents")
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    control.set_rate_limit(None, 60)
    control.inject("403", path_contains="/api/v2/agents")
    assert get(sim, vendor, "/api/v2/agents").status_code == 403
    assert get(sim, vendor, "/api/v2/agents").status_code == 200


# ----- rate limits and faults ---------------------------------------------------------------------------------------
def test_rate_limit_headers_429_and_window_reset(sim):
    control = sim.vendor("freshservice")
    control.set_rate_limit(3, window_seconds=1.5)
    first = get(sim, "freshservice", "/api/v2/tickets")
    assert first.headers["X-RateLimit-Total"] == "3" and first.headers["X-RateLimit-Remaining"] == "2"
    assert first.headers["X-RateLimit-Used-CurrentRequest"] == "1"
    assert get(sim, "freshservice", "/api/v2/tickets", auth=("bad", "X")).status_code == 401  # counts too
    assert get(sim, "freshservice", "/api/v2/tickets").headers["X-RateLimit-Remaining"] == "0"
    throttled = get(sim, "freshservice", "/api/v2/tickets")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"].isdigit() and 1 <= int(throttled.headers["Retry-After"]) <= 2
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    time.sleep(int(throttled.headers["Retry-After"]) + 0.1)
    assert get(sim, "freshservice", "/api/v2/tickets").status_code == 200


def test_injected_status_faults_respect_count_after_and_path(sim):
    control = sim.vendor("freshservice")
    control.inject("500", count=2, path_contains="/api/v2/tickets", after=1)
    control.inject("502", path_contains="/workspaces")
    codes = [get(sim, "freshservice", "/api/v2/tickets").status_code for _ in range(4)]
    assert codes == [200, 500, 500, 200]
    assert get(sim, "freshservice", "/api/v2/workspaces").status_code == 502
    control.inject("503")
    unavailable = get(sim, "freshservice", "/api/v2/tickets")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"].isdigit()
    control.inject("401")
    assert get(sim, "freshservice", "/api/v2/tickets").json()["code"] == "invalid_credentials"
    control.inject("429")
    assert get(sim, "freshservice", "/api/v2/tickets").headers["Retry-After"].isdigit()
    assert control.request_count(status=500) == 2 and control.request_count(path_contains="workspaces") == 1
    with pytest.raises(ValueError):
        control.inject("418")


def test_timeout_reset_and_truncated_faults(sim):
    control = sim.vendor("freshdesk")
    sim.timeout_sleep = 0.6
    control.inject("timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(sim, "freshdesk", "/api/v2/tickets", timeout=0.2)
    control.inject("reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(sim, "freshdesk", "/api/v2/tickets")
    control.inject("truncated")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        get(sim, "freshdesk", "/api/v2/tickets")
    time.sleep(0.5)
    assert get(sim, "freshdesk", "/api/v2/tickets").status_code == 200


# ----- mutations, truth and control ---------------------------------------------------------------------------------
def test_mutations_are_seen_by_an_incremental_sync(sim):
    control = sim.vendor("freshdesk")
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    changed = control.mutate(6, seed=21, kinds=("update", "create"))
    assert len(changed) == 6 and all(isinstance(key, str) for key in changed)
    params = {"updated_since": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "order_by": "updated_at", "order_type": "asc"}
    seen = {str(t["id"]) for t in get(sim, "freshdesk", "/api/v2/tickets", params).json()}
    assert set(changed) <= seen
    truth = control.truth()
    assert all(fw_time(truth[key]["updated_at"]) >= since for key in changed)
    with pytest.raises(ValueError):
        control.mutate(1, kinds=("explode",))


def test_mutate_after_requests_changes_data_between_pages(sim):
    control = sim.vendor("freshservice")
    params = {"workspace_id": 0, "updated_since": OLD, "per_page": 100, "order_type": "asc"}
    pending = control.mutate_after_requests(1, 3, kinds=("create",))
    first = get(sim, "freshservice", "/api/v2/tickets", params)
    assert pending.wait(2) and len(pending.changed) == 3
    first_ids = {str(t["id"]) for t in first.json()["tickets"]}
    assert not set(pending.changed) & first_ids
    ids, _ = walk(sim, "freshservice", params)
    assert set(pending.changed) <= set(ids)


def test_request_log_and_counts(sim):
    control = sim.vendor("freshservice")
    control.reset_counts()
    get(sim, "freshservice", "/api/v2/tickets", {"per_page": 5})
    get(sim, "freshservice", "/api/v2/tickets", auth=None)
    get(sim, "freshservice", "/nope")
    assert control.requests[0] == ("GET", "/api/v2/tickets?per_page=5", 200)
    assert control.request_count() == 3 and control.request_count(status=401) == 1
    assert control.request_count(path_contains="per_page=5") == 1 and control.request_count(status=404) == 1
    control.reset_counts()
    assert control.request_count() == 0


def test_http_control_endpoints_need_no_auth_and_skip_budget(sim):
    base = sim.base_urls["freshdesk"]
    sim.vendor("freshdesk").set_rate_limit(1, window_seconds=60)
    changed = requests.post(f"{base}/_sim/mutate", json={"n": 3, "kinds": ["update"]}, timeout=5).json()["changed"]
    truth = requests.get(f"{base}/_sim/truth", timeout=5).json()
    assert len(changed) == 3 and set(changed) <= set(truth)
    assert requests.post(f"{base}/_sim/fault", json={"fault": "503"}, timeout=5).status_code == 200
    assert get(sim, "freshdesk", "/api/v2/tickets").status_code == 503
    stats = requests.get(f"{base}/_sim/stats", timeout=5).json()
    assert stats["requests"] == 1 and stats["by_status"] == {"503": 1}
    ids = requests.get(f"{base}/_sim/ids", timeout=5).json()
    assert set(ids) == {"live", "deleted", "spam", "archived", "hidden"}
    assert requests.post(f"{base}/_sim/fault", json={"fault": "nope"}, timeout=5).status_code == 400
    assert requests.get(f"{base}/_sim/nothing", timeout=5).status_code == 404
    assert requests.post(f"{base}/_sim/rate_limit", json={"per_minute": None}, timeout=5).status_code == 200
    config = requests.get(f"{base}/_sim/config", timeout=5).json()
    assert config["base_url"] == base and config["credentials"] == sim.credentials["freshdesk"]


# ----- Jira Cloud ---------------------------------------------------------------------------------------------------
def test_jira_token_paging_is_last_no_total_and_start_at_ignored(sim):
    truth = sim.vendor("jira").truth()
    jql = f"project in ({', '.join(sim.jira_projects)}) ORDER BY key ASC"
    keys, token, pages = [], None, 0
    while True:
        body = jira_search(sim, jql, maxResults=40, fields="summary",
                           **({"nextPageToken": token} if token else {})).json()
        assert "total" not in body and "startAt" not in body
        keys += [issue["key"] for issue in body["issues"]]
        pages += 1
        if body["isLast"]:
            assert "nextPageToken" not in body
            break
        token = body["nextPageToken"]
    assert len(keys) == len(set(keys)) and set(keys) == set(truth) and pages == -(-len(truth) // 40)
    first = jira_search(sim, jql, maxResults=40, fields="summary").json()["issues"]
    assert jira_search(sim, jql, maxResults=40, fields="summary", startAt=40).json()["issues"] == first
    assert jira_search(sim, jql, nextPageToken="garbage").status_code == 400
    sim.vendor("jira").stale_token_on_last_page = True
    last = jira_search(sim, jql, maxResults=5000).json()
    assert last["isLast"] is True and last["nextPageToken"]
    posted = requests.post(f"{sim.base_urls['jira']}/rest/api/3/search/jql", auth=auth_for(sim, "jira"), timeout=5,
                           json={"jql": jql, "maxResults": 40, "fields": ["summary"]}).json()
    assert posted["issues"] == first


def test_jira_fields_default_to_id_and_page_size_caps(sim):
    jql = "project in (OPS, ENG, SEC)"
    plain = jira_search(sim, jql).json()["issues"]
    assert len(plain) == 50 and all(set(issue) == {"id"} for issue in plain)
    rich = jira_search(sim, jql, fields="*all", maxResults=1000).json()["issues"]
    assert len(rich) == 100 and {"summary", "status", "updated", "project"} <= set(rich[0]["fields"])
    assert "description" not in jira_search(sim, jql, fields="*all,-description").json()["issues"][0]["fields"]
    census = jira_search(sim, jql, fields="id", maxResults=5000).json()
    assert census["isLast"] and len(census["issues"]) == len(sim.vendor("jira").truth())


def test_jira_unbounded_and_invalid_jql(sim):
    unbounded = jira_search(sim, "ORDER BY key DESC")
    assert unbounded.status_code == 400
    assert unbounded.json()["errorMessages"] == [
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."]
    assert jira_search(sim, "").status_code == 400
    missing = jira_search(sim, "project = NOPE")
    assert missing.status_code == 400 and "does not exist for the field 'project'" in missing.json()["errorMessages"][0]
    assert jira_search(sim, 'summary ~ "unterminated').status_code == 400
    assert jira_search(sim, "updated >= 'not a date'").status_code == 400
    assert jira_search(sim, "project = OPS ORDER BY nonsense").status_code == 400


def test_jira_date_literals_use_user_timezone_epoch_ms_is_absolute(sim):
    truth = sim.vendor("jira").truth()
    updated = {key: jira_time(issue["fields"]["updated"]) for key, issue in truth.items()}
    assert all(JIRA_TS.match(issue["fields"]["updated"]) for issue in truth.values())
    pivot = sorted(updated.values())[len(updated) // 2].astimezone(UTC)
    threshold = (pivot + timedelta(hours=1)).replace(second=0, microsecond=0)
    naive_utc_text = threshold.strftime("%Y/%m/%d %H:%M")  # the classic bug: UTC wall clock sent as a literal
    as_local = threshold.replace(tzinfo=ZoneInfo("Asia/Kolkata"))
    literal = set(jira_keys(sim, f'updated >= "{naive_utc_text}"'))
    dashed = set(jira_keys(sim, f"updated >= '{threshold.strftime('%Y-%m-%d %H:%M')}'"))
    epoch = set(jira_keys(sim, f"updated >= {int(threshold.timestamp() * 1000)}"))
    assert literal == dashed == {key for key, moment in updated.items() if moment >= as_local}
    assert epoch == {key for key, moment in updated.items() if moment >= threshold}
    assert literal > epoch, "a UTC literal in an IST profile reaches 5h30 further back"
    before = datetime.now(UTC) - timedelta(days=1)
    relative = set(jira_keys(sim, "updated >= -1d"))
    after = datetime.now(UTC) - timedelta(days=1)
    assert {k for k, m in updated.items() if m >= after} <= relative <= {k for k, m in updated.items() if m >= before}


def test_jira_order_by_updated_then_key(sim):
    jql = "project in (OPS, ENG) AND updated >= -800d ORDER BY updated ASC, key ASC"
    issues = jira_search(sim, jql, fields="updated", maxResults=100).json()["issues"]
    rows = [(jira_time(i["fields"]["updated"]), i["key"].split("-")[0], int(i["key"].split("-")[1])) for i in issues]
    assert rows == sorted(rows) and {r[1] for r in rows} <= {"OPS", "ENG"}
    touched = sim.vendor("jira").mutate(20, seed=41, kinds=("update",))
    tied = jira_search(sim, f"key in ({', '.join(touched)}) ORDER BY updated ASC, key DESC", fields="updated")
    order = [(jira_time(i["fields"]["updated"]), i["key"]) for i in tied.json()["issues"]]
    expected = sorted(order, key=lambda row: (row[1].split("-")[0], int(row[1].split("-")[1])), reverse=True)
    assert order == sorted(expected, key=lambda row: row[0])
    assert len({moment for moment, _ in order}) < len(order), "updates in one burst share a millisecond"
    newest = jira_search(sim, "project = SEC ORDER BY updated DESC", fields="updated").json()["issues"]
    stamps = [jira_time(i["fields"]["updated"]) for i in newest]
    assert stamps == sorted(stamps, reverse=True)


def test_jira_removed_search_endpoints_answer_410(sim):
    for version in (2, 3):
        url = f"{sim.base_urls['jira']}/rest/api/{version}/search"
        for response in (requests.get(url, params={"jql": "project = OPS"}, auth=auth_for(sim, "jira"), timeout=5),
                         requests.post(url, json={"jql": "project = OPS"}, auth=auth_for(sim, "jira"), timeout=5)):
            assert response.status_code == 410
            assert "CHANGE-2046" in response.json()["errorMessages"][0] and response.json()["errors"] == {}


def test_jira_bad_token_is_200_empty_with_seraph_header(sim):
    wrong = (sim.credentials["jira"]["email"], "expired-token")
    response = jira_search(sim, "project = OPS", auth=wrong)
    assert response.status_code == 200 and response.json() == {"issues": [], "isLast": True}
    assert response.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert get(sim, "jira", "/rest/api/3/myself", auth=wrong).status_code == 401
    me = get(sim, "jira", "/rest/api/3/myself")
    assert me.status_code == 200 and me.json()["timeZone"] == "Asia/Kolkata"
    control = sim.vendor("jira")
    control.set_bad_token(True)
    flagged = jira_search(sim, "project = OPS")
    assert flagged.json()["issues"] == [] and flagged.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert get(sim, "jira", "/rest/api/3/myself").status_code == 401
    control.set_bad_token(True, project_error=True)
    named = jira_search(sim, "project = OPS")
    assert named.status_code == 400 and "does not exist for the field 'project'" in named.text
    control.set_bad_token(False)
    assert jira_search(sim, "project = OPS").json()["issues"]
    anonymous = jira_search(sim, "project = OPS", auth=None)
    assert anonymous.json()["issues"] == [] and "X-Seraph-LoginReason" not in anonymous.headers


def test_freshservice_bad_token_switch(sim):
    sim.vendor("freshservice").set_bad_token(True)
    assert get(sim, "freshservice", "/api/v2/tickets").status_code == 401


def test_jira_429_headers_html_body_and_503(sim):
    control = sim.vendor("jira")
    control.set_rate_limit(2, window_seconds=30)
    ok = jira_search(sim, "project = OPS")
    assert ok.headers["X-RateLimit-Limit"] == "2" and ok.headers["X-RateLimit-Remaining"] == "1"
    jira_search(sim, "project = OPS")
    throttled = [jira_search(sim, "project = OPS") for _ in range(2)]
    for response in throttled:
        assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
        assert response.headers["RateLimit-Reason"] and response.headers["X-RateLimit-Remaining"] == "0"
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\dZ$", response.headers["X-RateLimit-Reset"])
    assert {r.headers["Content-Type"].split(";")[0] for r in throttled} == {"text/html", "application/json"}
    control.set_rate_limit(None)
    control.inject("503")
    unavailable = jira_search(sim, "project = OPS")
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"].isdigit()


def test_jira_eventual_consistency_and_deleted_issues(sim):
    control = sim.vendor("jira")
    control.set_consistency_delay(1.0)
    (created,) = control.mutate(1, seed=31, kinds=("create",))
    assert jira_search(sim, f"key = {created}").json()["issues"] == []
    assert get(sim, "jira", f"/rest/api/3/issue/{created}").status_code == 200
    time.sleep(1.1)
    assert jira_search(sim, f"key = {created}", fields="key").json()["issues"][0]["key"] == created
    (gone,) = control.mutate(1, seed=32, kinds=("delete",))
    assert gone in control.deleted_ids() and gone not in control.truth()
    missing = get(sim, "jira", f"/rest/api/3/issue/{gone}")
    assert missing.status_code == 404 and missing.json()["errorMessages"]
    assert jira_search(sim, f"key = {gone}").json()["issues"] == []


def test_jira_cloud_payload_shapes(sim):
    truth = sim.vendor("jira").truth()
    fields = [issue["fields"] for issue in truth.values()]
    adf = [f["description"] for f in fields if f["description"] is not None]
    assert adf and all(doc["type"] == "doc" and doc["version"] == 1 for doc in adf)
    sprints = [f["customfield_10020"] for f in fields if f["customfield_10020"]]
    assert sprints and all({"id", "name", "state", "boardId"} <= set(s[0]) for s in sprints)
    assert all(isinstance(f["status"]["statusCategory"]["id"], int) for f in fields)
    assert {f["status"]["statusCategory"]["key"] for f in fields} >= {"new", "indeterminate", "done"}
    catalog = get(sim, "jira", "/rest/api/3/field").json()
    assert any(f.get("schema", {}).get("custom") == "com.pyxis.greenhopper.jira:gh-sprint" for f in catalog)
    assert get(sim, "jira", "/rest/api/3/serverInfo", auth=None).status_code == 200
    assert len(sim.jira_projects) in (2, 3)
    assert sim.settings_env()["JIRA_PROJECTS"] == ",".join(sim.jira_projects)


def test_settings_env_points_at_the_simulator(sim):
    env = sim.settings_env()
    assert env["FRESHSERVICE_BASE_URL"] == sim.base_urls["freshservice"]
    assert env["FRESHDESK_API_KEY"] == sim.credentials["freshdesk"]["api_key"]
    assert env["JIRA_EMAIL"] == sim.credentials["jira"]["email"] and env["JIRA_FLAVOUR"] == "cloud"
    me = requests.get(env["JIRA_BASE_URL"] + "/rest/api/3/myself", auth=(env["JIRA_EMAIL"], env["JIRA_API_TOKEN"]),
                      timeout=5)
    assert me.status_code == 200


# ----- Jira Data Center ---------------------------------------------------------------------------------------------
def dc_get(dc_sim, path, params=None, bearer=True):
    """GET on the DC fake with the PAT as a bearer token (or Cloud-style basic auth)."""
    creds = dc_sim.credentials["jira"]
    headers = {"Authorization": f"Bearer {creds['pat']}"} if bearer else {}
    auth = None if bearer else ("someone@example.com", creds["api_token"])
    return requests.get(dc_sim.base_urls["jira"] + path, params=params, headers=headers, auth=auth, timeout=10)


def test_jira_dc_start_at_total_bearer_and_search_limit(dc_sim):
    truth = dc_sim.vendor("jira").truth()
    ops = {key for key in truth if key.startswith("OPS-")}
    keys, start = [], 0
    while True:
        body = dc_get(dc_sim, "/rest/api/2/search", {"jql": "project = OPS ORDER BY key", "startAt": start,
                                                     "maxResults": 30}).json()
        assert body["total"] == len(ops) and body["startAt"] == start and body["maxResults"] == 30
        keys += [issue["key"] for issue in body["issues"]]
        start += 30
        if start >= body["total"]:
            break
    assert set(keys) == ops and len(keys) == len(ops)
    everything = dc_get(dc_sim, "/rest/api/2/search", {"maxResults": 500}).json()
    assert everything["maxResults"] == 100 and everything["total"] == len(truth)
    deep = dc_get(dc_sim, "/rest/api/2/search", {"jql": "project = OPS", "startAt": 9950, "maxResults": 100})
    assert deep.status_code == 500 and "Search limit exceeded" in deep.json()["errorMessages"][0]
    basic = dc_get(dc_sim, "/rest/api/2/search", {"jql": "project = OPS"}, bearer=False)
    assert basic.json()["issues"] == [] and basic.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert dc_get(dc_sim, "/rest/api/3/search/jql", {"jql": "project = OPS"}).status_code == 404
    assert dc_get(dc_sim, "/rest/api/2/search/jql", {"jql": "project = OPS"}).status_code == 404
    assert dc_sim.settings_env()["JIRA_FLAVOUR"] == "datacenter"


def test_jira_dc_payload_shapes(dc_sim):
    fields = [issue["fields"] for issue in dc_sim.vendor("jira").truth().values()]
    assert all(isinstance(f["description"], (str, type(None))) for f in fields)
    sprints = [f["customfield_10104"] for f in fields if f["customfield_10104"]]
    assert sprints and all(s.startswith("com.atlassian.greenhopper.service.sprint.Sprint@") for s in sprints[0])
    people = [f["reporter"] for f in fields]
    assert all("name" in p and "key" in p and "accountId" not in p for p in people)
    assert all(re.search(r"\.\d{3}-0[78]00$", f["updated"]) for f in fields)
    me = dc_get(dc_sim, "/rest/api/2/myself").json()
    assert me["timeZone"] == "America/Los_Angeles" and me["name"] == "sim.user"
    catalog = dc_get(dc_sim, "/rest/api/2/field").json()
    assert any(f["id"] == "customfield_10104" and f["schema"]["custom"].endswith("gh-sprint") for f in catalog)
    limited = dc_sim.vendor("jira")
    limited.set_rate_limit(1, window_seconds=30)
    dc_get(dc_sim, "/rest/api/2/myself")
    throttled = dc_get(dc_sim, "/rest/api/2/myself")
    assert throttled.status_code == 429 and throttled.headers["X-RateLimit-Interval-Seconds"] == "30"


# ----- data and CLI -------------------------------------------------------------------------------------------------
def test_default_sizes_generate_deterministic_and_hostile():
    big = VendorSimulator(seed=2)
    sizes = {name: len(big.vendor(name).store.items) for name in ("freshservice", "freshdesk", "jira")}
    assert sizes == {"freshservice": 5000, "freshdesk": 5000, "jira": 2000}
    subjects = [t["subject"] for t in big.vendor("freshservice").truth().values()]
    for payload in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", 'href="javascript:alert(1)"',
                    'hx-get="/x"', "工单"):
        assert any(payload in text for text in subjects), payload
    assert max(len(text) for text in subjects) > 1000
    # the Jira keys tickets mention come from the Jira data, so only the Freshdesk size changes here
    again = VendorSimulator(seed=2, sizes={"freshservice": 5000, "freshdesk": 10, "jira": 2000})
    assert [t["subject"] for t in again.vendor("freshservice").truth().values()] == subjects


@pytest.mark.slow
def test_cli_runs_and_prints_base_urls():
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "vendorsim", "--size-freshservice", "20", "--size-freshdesk", "20",
               "--size-jira", "20", "--seed", "4"]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert [line.split()[0] for line in lines] == ["freshservice", "freshdesk", "jira"]
        url, key = lines[1].split()[1], lines[1].split("api_key=")[1].strip()
        assert requests.get(url + "/api/v2/tickets", auth=(key, "X"), timeout=5).status_code == 200
        assert "email=" in lines[2] and "api_token=" in lines[2]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
