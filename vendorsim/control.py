"""HTTP control endpoints under /_sim/ so a simulator in another process can be steered (no auth, no budget)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from werkzeug.wrappers import Request, Response

from vendorsim.responses import json_response

if TYPE_CHECKING:  # the app imports this module to route /_sim/ requests
    from vendorsim.base import VendorApp

Handler = Callable[["VendorApp", dict[str, Any]], Any]


def _mutate(app: VendorApp, body: dict[str, Any]) -> Any:  # kinds may include move, hide, tie_burst
    """POST /_sim/mutate {"n", "seed"?, "kinds"?}."""
    kinds = body.get("kinds") or ("update", "create", "delete", "spam")
    return {"changed": app.mutate(int(body.get("n", 1)), body.get("seed"), kinds)}


def _mutate_later(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/mutate_after_requests {"k", "n", "kinds"?}."""
    kinds = body.get("kinds") or ("update", "create", "delete", "spam")
    app.mutate_after_requests(int(body["k"]), int(body.get("n", 1)), kinds, body.get("seed"))
    return {"scheduled": True}


def _edit(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/edit {"id", "changes": {field: value}}: an agent's edit of one item."""
    app.edit(str(body["id"]), **dict(body.get("changes") or {}))
    return {"edited": str(body["id"])}


def _fault(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/fault {"fault", "count"?, "path_contains"?, "after"?, "aux"?}."""
    app.inject(str(body["fault"]), int(body.get("count", 1)), body.get("path_contains"), int(body.get("after", 0)),
               body.get("aux"))
    return {"faults": app.faults.pending()}


def _adversarial(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/adversarial {"on"?: true, "seed"?}: every adversarial switch at once."""
    app.set_adversarial(bool(body.get("on", True)), body.get("seed"))
    return app.switches()


def _move(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/move {"id", "to"}: move an item to another group (a Jira issue to another project)."""
    return {"moved": str(body["id"]), "now": app.move(str(body["id"]), body["to"])}


def _hide(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/hide {"group", "hidden"?: true}: the account loses (or regains) access to a Jira project."""
    return {"items": app.store.hide_group(body["group"], bool(body.get("hidden", True))),
            "hidden": sorted(app.store.hidden_groups)}


def _rate_limit(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/rate_limit {"per_minute", "window_seconds"?, "list_per_minute"?}."""
    app.set_rate_limit(body.get("per_minute"), body.get("window_seconds"))
    if "list_per_minute" in body:
        app.set_list_rate_limit(body["list_per_minute"], body.get("window_seconds"))
    return app.limiter.peek()


def _settings(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/settings {"bad_token"?, "consistency_delay"?, "timeout_sleep"?, "bump_on_delete"?,
    "silent_deletes"?, "shuffle_ties"? (a seed, or null), "aux_fault_rate"?, "workspaces_refused"?,
    "strict_issue_refs"?, "tie_orders"?, "tie_burst_size"?}: workspaces_refused, strict_issue_refs and tie_orders
    (the Freshworks sort fields whose ties are shuffled) apply only where the vendor has them; approximate_error
    (Jira): approximate-count is off by up to that share of the true count.

    consistency_delay: seconds a change takes to reach search (Jira search, approximate-count, and the Freshworks
    filter/search endpoints' results and totals)."""
    if "bad_token" in body:
        app.set_bad_token(bool(body["bad_token"]))
    if "consistency_delay" in body:
        app.set_consistency_delay(float(body["consistency_delay"]))
    if "timeout_sleep" in body:
        app.timeout_sleep = float(body["timeout_sleep"])
    if "bump_on_delete" in body:
        app.set_silent_deletes(not body["bump_on_delete"])
    if "silent_deletes" in body:
        app.set_silent_deletes(bool(body["silent_deletes"]))
    if "shuffle_ties" in body:
        app.set_tie_shuffle(None if body["shuffle_ties"] in (None, False) else int(body["shuffle_ties"]))
    if "aux_fault_rate" in body:
        app.faults.random_aux(float(body["aux_fault_rate"]), body.get("seed"))
    if "tie_orders" in body and hasattr(app, "tie_orders"):
        app.tie_orders = frozenset(str(order) for order in body["tie_orders"])
    if "tie_burst_size" in body:
        app.store.tie_burst_size = int(body["tie_burst_size"])
    for switch in ("workspaces_refused", "strict_issue_refs"):
        if switch in body:
            if not hasattr(app, switch):
                raise ValueError(f"{switch} does not apply to {app.name}")
            setattr(app, switch, bool(body[switch]))
    if "approximate_error" in body and hasattr(app, "approximate_error"):
        app.approximate_error = float(body["approximate_error"])
    return app.stats()


def _clear(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/clear_faults."""
    app.clear_faults()
    return {"faults": []}


def _reset_counts(app: VendorApp, body: dict[str, Any]) -> Any:
    """POST /_sim/reset_counts."""
    app.reset_counts()
    return {"requests": 0}


def _ids(app: VendorApp, body: dict[str, Any]) -> Any:
    """GET /_sim/ids: live, deleted, spam and archived external ids."""
    return {"live": sorted(app.truth()), "deleted": sorted(app.deleted_ids()), "spam": sorted(app.spam_ids()),
            "archived": sorted(app.archived_ids()), "hidden": sorted(app.hidden_ids())}


def _config(app: VendorApp, body: dict[str, Any]) -> Any:
    """GET /_sim/config: where this server is and how to log in."""
    return {"vendor": app.name, "base_url": app.base_url, "credentials": app.credentials}


ACTIONS: dict[tuple[str, str], Handler] = {
    ("POST", "mutate"): _mutate, ("POST", "mutate_after_requests"): _mutate_later, ("POST", "fault"): _fault,
    ("POST", "edit"): _edit,
    ("DELETE", "fault"): _clear, ("POST", "clear_faults"): _clear, ("POST", "reset_counts"): _reset_counts,
    ("POST", "rate_limit"): _rate_limit, ("POST", "settings"): _settings,
    ("POST", "bad_token"): lambda app, body: _settings(app, {"bad_token": body.get("on", True)}),
    ("POST", "consistency_delay"): lambda app, body: _settings(app, {"consistency_delay": body["seconds"]}),
    ("GET", "truth"): lambda app, body: app.truth(), ("GET", "stats"): lambda app, body: app.stats(),
    ("GET", "requests"): lambda app, body: [list(entry) for entry in app.requests],
    ("GET", "ids"): _ids, ("GET", "config"): _config,
    ("POST", "adversarial"): _adversarial, ("POST", "move"): _move, ("POST", "hide"): _hide,
}


def handle_control(app: VendorApp, request: Request) -> Response:
    """Run one /_sim/ action and answer JSON; bad input gives 400 with the reason."""
    action = ACTIONS.get((request.method, request.path[len("/_sim/"):].strip("/")))
    if action is None:
        return json_response({"error": "unknown control action", "actions": sorted(f"{m} /_sim/{p}"
                                                                                   for m, p in ACTIONS)}, 404)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        return json_response(action(app, body))
    except (KeyError, TypeError, ValueError) as error:
        return json_response({"error": str(error)}, 400)
