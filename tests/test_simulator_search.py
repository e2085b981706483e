"""The simulator's Freshworks filter/search endpoints and Jira approximate-count, as vendor-apis.md describes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from vendorsim import VendorSimulator

SEARCH = {"freshservice": ("/api/v2/tickets/filter", "tickets"), "freshdesk": ("/api/v2/search/tickets", "results")}


@pytest.fixture(scope="module")
def sim():
    simulator = VendorSimulator(seed=5, sizes={"freshservice": 120, "freshdesk": 120, "jira": 60}).start()
    yield simulator
    simulator.stop()


def _search(sim, name: str, query: str | None, **params):
    path, _ = SEARCH[name]
    if query is not None:
        params["query"] = query
    return requests.get(sim.base_urls[name] + path, params=params, timeout=10,
                        auth=(sim.credentials[name]["api_key"], "X"))


@pytest.mark.parametrize("name", sorted(SEARCH))
def test_counts_by_creation_day_pages_of_30_and_ten_pages_at_most(sim, name):
    vendor = sim.vendor(name)
    truth = vendor.truth()
    answer = _search(sim, name, "\"created_at:>'2000-01-01' AND created_at:<'2100-01-01'\"").json()
    assert answer["total"] == len(truth) and len(answer[SEARCH[name][1]]) == 30
    with vendor.store.lock:
        days = sorted(item.created.date() for item in vendor.store.items.values() if item.state == "live")
    first, last = days[len(days) // 3], days[2 * len(days) // 3]
    query = f"\"created_at:>'{first.isoformat()}' AND created_at:<'{last.isoformat()}'\""
    assert _search(sim, name, query).json()["total"] == sum(1 for day in days if first <= day <= last)
    day_after = (last + timedelta(days=1)).isoformat()
    assert _search(sim, name, f"\"created_at:>'{day_after}' AND created_at:<'{day_after}'\"").json()["total"] == sum(
        1 for day in days if day == last + timedelta(days=1))
    assert _search(sim, name, '"priority:1 OR (priority:2 AND status:2)"').status_code == 200


@pytest.mark.parametrize("name", sorted(SEARCH))
@pytest.mark.parametrize(("query", "params", "field"), [
    ("created_at:>'2000-01-01'", {}, "query"),  # not wrapped in double quotes
    ('"' + "status:2 OR " * 50 + 'status:3"', {}, "query"),  # longer than 512 characters
    ('"status:2"', {"page": "11"}, "page"),
    ('"created_at:>\'2024-13-45\'"', {}, "created_at"),
    ('"colour:2"', {}, "colour"),
    (None, {}, "query"),
])
def test_refusals_carry_the_freshworks_validation_envelope(sim, name, query, params, field):
    answer = _search(sim, name, query, **params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["description"] == "Validation failed" and body["errors"][0]["field"] == field


@pytest.mark.parametrize("name", sorted(SEARCH))
def test_totals_and_results_lag_writes_by_the_consistency_delay(sim, name):
    vendor = sim.vendor(name)
    everything = "\"created_at:>'2000-01-01'\""
    before = _search(sim, name, everything).json()["total"]
    vendor.set_consistency_delay(3600)  # far longer than any stall of the machine between the change and the search
    vendor.store.bump_on_delete = False
    try:
        vendor.mutate(3, seed=2, kinds=("delete",))
        vendor.mutate(2, seed=3, kinds=("create",))
        assert _search(sim, name, everything).json()["total"] == before
        with vendor.store.lock:  # the delay has passed: the changes are due in the index
            lagging = [item for item in vendor.store.items.values() if item.visible_at is not None]
            for item in lagging:
                item.visible_at -= timedelta(seconds=3601)
        assert len(lagging) == 5
        assert _search(sim, name, everything).json()["total"] == before - 3 + 2 == len(vendor.truth())
    finally:
        vendor.set_consistency_delay(0)
        vendor.store.bump_on_delete = True


def test_jira_approximate_count_is_approximate_when_switched_on(sim):
    jira, creds = sim.vendor("jira"), sim.credentials["jira"]
    url = sim.base_urls["jira"] + "/rest/api/3/search/approximate-count"
    body = {"jql": f"project = {sim.jira_projects[0]}"}

    def count() -> int:
        return requests.post(url, json=body, auth=(creds["email"], creds["api_token"]), timeout=10).json()["count"]

    exact = count()
    jira.approximate_error = 0.5
    try:
        seen = {count() for _ in range(12)}
    finally:
        jira.approximate_error = 0.0
    assert len(seen) > 1 and all(abs(value - exact) <= max(1, round(exact * 0.5)) for value in seen)
    assert count() == exact
