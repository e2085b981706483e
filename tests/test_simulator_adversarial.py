"""The simulator's adversarial switches (vendor API spec §8), each observed through real HTTP requests."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests

from vendorsim import VendorSimulator

OLD = "2000-01-01T00:00:00Z"
SIZES = {"freshservice": 150, "freshdesk": 150, "jira": 150}


@pytest.fixture()
def sim() -> Iterator[VendorSimulator]:
    """A simulator with the adversarial profile on (seed 5)."""
    with VendorSimulator(seed=5, sizes=SIZES, adversarial=True, adversarial_seed=5) as simulator:
        for name in ("freshservice", "freshdesk", "jira"):
            simulator.vendor(name).faults.random_aux(0.0)  # random auxiliary faults have their own test
        yield simulator


@pytest.fixture()
def friendly() -> Iterator[VendorSimulator]:
    """The same simulator without the profile."""
    with VendorSimulator(seed=5, sizes=SIZES) as simulator:
        yield simulator


def call(simulator: VendorSimulator, vendor: str, path: str, params: Any = None,
         method: str = "GET", json: Any = None) -> requests.Response:
    """One authenticated request to a vendor."""
    creds = simulator.credentials[vendor]
    auth = (creds["email"], creds["api_token"]) if vendor == "jira" else (creds["api_key"], "X")
    return requests.request(method, simulator.base_urls[vendor] + path, params=params, json=json, auth=auth,
                            timeout=10)


def control(simulator: VendorSimulator, vendor: str, action: str, body: Any = None) -> Any:
    """One /_sim/ control call."""
    response = requests.post(f"{simulator.base_urls[vendor]}/_sim/{action}", json=body or {}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def tickets(simulator: VendorSimulator, vendor: str, **params: Any) -> list[dict[str, Any]]:
    """One page of a Freshworks ticket list."""
    response = call(simulator, vendor, "/api/v2/tickets", {"updated_since": OLD, "per_page": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["tickets"] if vendor == "freshservice" else body


def search(simulator: VendorSimulator, jql: str, **params: Any) -> requests.Response:
    """One Jira Cloud search."""
    return call(simulator, "jira", "/rest/api/3/search/jql", {"jql": jql, "maxResults": 100, **params})


# ----- the profile ----------------------------------------------------------------------------------------------------
def test_one_control_call_turns_every_switch_on_and_off(friendly):
    for vendor in ("freshservice", "freshdesk", "jira"):
        on = control(friendly, vendor, "adversarial", {"seed": 9})
        assert on["adversarial"] and on["seed"] == 9 and on["silent_deletes"] and on["shuffle_ties"]
        assert on["aux_fault_rate"] > 0
        off = control(friendly, vendor, "adversarial", {"on": False})
        assert not (off["adversarial"] or off["silent_deletes"] or off["shuffle_ties"] or off["aux_fault_rate"])
    assert control(friendly, "freshservice", "adversarial")["workspaces_refused"]
    assert control(friendly, "jira", "adversarial")["strict_issue_refs"]
    assert VendorSimulator(seed=1, sizes={"freshservice": 1, "freshdesk": 1, "jira": 1},
                           adversarial=True).vendor("jira").switches()["strict_issue_refs"]


# ----- deletions and spam without an updated_at bump ------------------------------------------------------------------
@pytest.mark.parametrize("vendor", ["freshservice", "freshdesk"])
@pytest.mark.parametrize("adversarial", [True, False])
def test_deletion_and_spam_leave_updated_at_alone_only_with_the_switch(sim, vendor, adversarial):
    if not adversarial:
        control(sim, vendor, "settings", {"silent_deletes": False})
    params = {"workspace_id": 0} if vendor == "freshservice" else {}
    before = {t["id"]: t["updated_at"] for t in tickets(sim, vendor, **params)}
    victim = sorted(before)[0]
    assert call(sim, vendor, f"/api/v2/tickets/{victim}", method="DELETE").status_code == 204
    spammed = sim.vendor(vendor).mutate(1, seed=3, kinds=("spam",))[0]
    deleted = {t["id"]: t for t in tickets(sim, vendor, filter="deleted", **params)}
    spam = {t["id"]: t for t in tickets(sim, vendor, filter="spam", **params)}
    assert deleted[victim]["deleted"] is True and spam[int(spammed)]["spam"] is True
    assert (deleted[victim]["updated_at"] == before[victim]) is adversarial
    assert (spam[int(spammed)]["updated_at"] == before[int(spammed)]) is adversarial
    assert victim not in {t["id"] for t in tickets(sim, vendor, **params)}


# ----- ties -----------------------------------------------------------------------------------------------------------
def test_a_tie_burst_shares_one_second_and_comes_back_in_a_new_order_on_every_call(sim):
    changed = control(sim, "freshdesk", "mutate", {"n": 1, "seed": 4, "kinds": ["tie_burst"]})["changed"]
    assert len(changed) == 120  # more than the largest page
    since = max(t["updated_at"] for t in tickets(sim, "freshdesk"))
    orders = [[t["id"] for t in tickets(sim, "freshdesk", updated_since=since, order_by="updated_at",
                                        order_type="asc")] for _ in range(3)]
    assert {str(i) for i in orders[0]} <= set(changed) and len(orders[0]) == 100  # a page short of the burst
    assert orders[0] != orders[1] != orders[2]
    assert set(orders[0]) != set(orders[1])  # so paging through the second by page number skips and repeats
    by_creation = [[t["id"] for t in tickets(sim, "freshdesk", order_by="created_at")] for _ in range(2)]
    assert by_creation[0] == by_creation[1]  # only the orders the switch names are shuffled


def test_freshworks_ties_keep_their_order_without_the_switch(friendly):
    friendly.vendor("freshdesk").mutate(1, seed=4, kinds=("tie_burst",))
    pages = [[t["id"] for t in tickets(friendly, "freshdesk", order_by="updated_at")] for _ in range(2)]
    assert pages[0] == pages[1]


def test_jira_ties_on_updated_are_reordered_unless_the_query_breaks_them(sim):
    sim.vendor("jira").mutate(1, seed=4, kinds=("tie_burst",))
    loose = [[i["id"] for i in search(sim, "updated >= -1d ORDER BY updated ASC").json()["issues"]]
             for _ in range(2)]
    assert len(loose[0]) == 100 and loose[0] != loose[1]
    strict = [[i["id"] for i in search(sim, "updated >= -1d ORDER BY updated ASC, key ASC").json()["issues"]]
              for _ in range(2)]
    assert strict[0] == strict[1]


# ----- Freshservice workspaces ----------------------------------------------------------------------------------------
def test_a_non_admin_key_may_not_list_workspaces_but_workspace_0_reads_them_all(sim, friendly):
    refused = call(sim, "freshservice", "/api/v2/workspaces")
    assert refused.status_code == 403 and refused.json()["code"] == "access_denied"
    assert call(friendly, "freshservice", "/api/v2/workspaces").status_code == 200
    every = tickets(sim, "freshservice", workspace_id=0)
    assert {t["workspace_id"] for t in every} == {2, 3, 4}
    assert {t["workspace_id"] for t in tickets(sim, "freshservice")} == {2}  # omitted: the primary one only


# ----- Jira: strict issue references, moves, lost visibility ----------------------------------------------------------
def test_an_id_or_key_comparison_naming_no_issue_is_a_400(sim, friendly):
    refused = search(sim, "id > 0 ORDER BY id ASC")
    assert refused.status_code == 400
    assert refused.json()["errorMessages"] == ["An issue with key '0' does not exist for field 'id'."]
    known = sim.vendor("jira").store.items["OPS-1"].num
    several = search(sim, f"id in ({known}, 999, 998)")
    assert several.status_code == 400 and several.json()["errorMessages"] == [
        "An issue with key '999' does not exist for field 'id'.",
        "An issue with key '998' does not exist for field 'id'."]
    assert search(sim, "key = OPS-99999").json()["errorMessages"] == [
        "An issue with key 'OPS-99999' does not exist for field 'key'."]
    assert search(sim, f"id = {known}").json()["issues"] == [{"id": str(known)}]
    gone = sim.vendor("jira").mutate(1, seed=2, kinds=("delete",))[0]
    assert search(sim, f"key = {gone}").status_code == 400  # a deleted issue does not exist either
    assert search(friendly, "id > 0 ORDER BY id ASC").status_code == 200


def test_a_moved_issue_has_a_new_key_and_the_same_id_and_its_old_key_still_answers(sim):
    jira = sim.vendor("jira")
    before = call(sim, "jira", "/rest/api/3/issue/OPS-2").json()
    moved = control(sim, "jira", "move", {"id": "OPS-2", "to": "ENG"})["now"]
    assert moved.startswith("ENG-") and jira.store.get("OPS-2") is None
    after = call(sim, "jira", f"/rest/api/3/issue/{moved}").json()
    assert after["id"] == before["id"] and after["key"] == moved and after["fields"]["project"]["key"] == "ENG"
    assert after["fields"]["updated"] > before["fields"]["updated"]
    by_old = call(sim, "jira", "/rest/api/3/issue/OPS-2")
    assert by_old.status_code == 200 and by_old.json()["key"] == moved
    assert [i["key"] for i in search(sim, "key = OPS-2", fields="key").json()["issues"]] == [moved]
    assert moved in jira.truth() and "OPS-2" not in jira.truth()
    kinds = jira.mutate(3, seed=6, kinds=("move",))
    assert all(jira.store.get(key) is not None for key in kinds)


def test_a_project_that_loses_browse_permission_vanishes_from_lists_search_and_reads(sim):
    jira = sim.vendor("jira")
    sec_issue = next(key for key in jira.truth() if key.startswith("SEC-"))
    issue_id = str(jira.store.get(sec_issue).num)
    hidden = control(sim, "jira", "hide", {"group": "SEC"})["items"]
    projects = call(sim, "jira", "/rest/api/3/project/search").json()["values"]
    assert "SEC" not in {p["key"] for p in projects} and len(projects) == 2
    assert "SEC" not in {p["key"] for p in call(sim, "jira", "/rest/api/3/project").json()}
    found = search(sim, "created >= 0", fields="key", maxResults=5000).json()["issues"]
    assert found and not [i for i in found if i["key"].startswith("SEC-")]
    for ref in (sec_issue, issue_id):
        refused = call(sim, "jira", f"/rest/api/3/issue/{ref}")
        assert refused.status_code == 404  # as if deleted: only the project list tells them apart
    assert search(sim, f"id = {issue_id}").status_code == 400
    ids = requests.get(f"{sim.base_urls['jira']}/_sim/ids", timeout=10).json()
    assert set(ids["hidden"]) == set(hidden) and not set(ids["live"]) & set(hidden)
    control(sim, "jira", "hide", {"group": "SEC", "hidden": False})
    assert call(sim, "jira", f"/rest/api/3/issue/{sec_issue}").status_code == 200


def test_the_hide_mutation_keeps_one_project_visible(sim):
    jira = sim.vendor("jira")
    jira.mutate(5, seed=1, kinds=("hide",))
    assert len(jira.store.hidden_groups) == 2 and len(call(sim, "jira", "/rest/api/3/project").json()) == 1


# ----- auxiliary calls failing on their own ---------------------------------------------------------------------------
def test_a_fault_can_target_one_kind_of_auxiliary_call(sim):
    control(sim, "freshdesk", "fault", {"fault": "500", "count": 2, "aux": "directory"})
    assert len(tickets(sim, "freshdesk")) == 100
    assert call(sim, "freshdesk", "/api/v2/agents").status_code == 500
    assert call(sim, "freshdesk", "/api/v2/groups").status_code == 500
    assert call(sim, "freshdesk", "/api/v2/agents").status_code == 200
    sim.vendor("freshservice").workspaces_refused = False
    control(sim, "freshservice", "fault", {"fault": "503", "aux": "workspaces"})
    assert call(sim, "freshservice", "/api/v2/workspaces").status_code == 503
    control(sim, "jira", "fault", {"fault": "500", "aux": "census"})
    assert search(sim, "created >= 0", fields="summary").status_code == 200  # a full search is not a census
    assert search(sim, "created >= 0", fields="id,key").status_code == 500
    for aux, path in (("projects", "/rest/api/3/project/search"), ("remotelinks", "/rest/api/3/issue/OPS-1/remotelink"),
                      ("lookup", "/rest/api/3/issue/OPS-1")):
        control(sim, "jira", "fault", {"fault": "403", "aux": aux})
        assert call(sim, "jira", path).status_code == 403 and call(sim, "jira", path).status_code == 200
    control(sim, "jira", "fault", {"fault": "500", "aux": "by_id"})
    assert search(sim, "id in (10000, 10001)", fields="summary").status_code == 500
    unknown = requests.post(f"{sim.base_urls['jira']}/_sim/fault", json={"fault": "500", "aux": "nope"}, timeout=10)
    assert unknown.status_code == 400 and "census" in unknown.json()["error"]


def test_the_profile_fails_a_seeded_share_of_auxiliary_calls_and_never_the_main_list(friendly):
    control(friendly, "freshdesk", "settings", {"aux_fault_rate": 0.5, "seed": 1})
    statuses = [call(friendly, "freshdesk", "/api/v2/groups").status_code for _ in range(40)]
    assert set(statuses) == {200, 503} and 10 < statuses.count(503) < 30
    assert all(call(friendly, "freshdesk", "/api/v2/tickets").status_code == 200 for _ in range(20))
    control(friendly, "freshdesk", "settings", {"aux_fault_rate": 0.5, "seed": 1})
    again = [call(friendly, "freshdesk", "/api/v2/groups").status_code for _ in range(40)]
    assert again == statuses  # the same seed, the same failures


# ----- seeded mutation kinds ------------------------------------------------------------------------------------------
def test_adversarial_mutations_are_reproducible_from_their_seed():
    runs = []
    for _ in range(2):
        simulator = VendorSimulator(seed=5, sizes=SIZES, adversarial=True)
        jira = simulator.vendor("jira")
        changed = jira.mutate(12, seed=21, kinds=("create", "update", "delete", "move", "hide", "tie_burst"))
        fd = simulator.vendor("freshdesk").mutate(8, seed=21, kinds=("create", "update", "delete", "spam", "tie_burst"))
        runs.append((changed, sorted(jira.truth()), sorted(jira.hidden_ids()), fd))
    assert runs[0] == runs[1]
