"""The shared vendor server: routing, faults, rate limits, request log and the control API."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Request, Response

from vendorsim.control import handle_control
from vendorsim.faults import FaultBook, reset_connection, truncate
from vendorsim.ratelimit import RateLimiter, Verdict
from vendorsim.responses import json_response
from vendorsim.store import DEFAULT_KINDS, Item, Store

log = logging.getLogger("vendorsim")
INSTANT_FAULTS = frozenset({"429", "500", "502", "503", "401", "403"})
AUX_FAULT_RATE = 0.05  # the adversarial profile fails this share of auxiliary calls with a 503


@dataclass(frozen=True)
class Route:
    """One endpoint: allowed methods, path pattern, handler method name, and whether it is a list call."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: str
    is_list: bool = False


def route(methods: str, pattern: str, handler: str, is_list: bool = False) -> Route:
    """Build a Route from 'GET,POST' and a regex matched against the whole path."""
    return Route(frozenset(methods.split(",")), re.compile(f"^{pattern}$"), handler, is_list)


@dataclass
class PendingMutation:
    """Changes armed to happen right after the k-th further list request."""

    remaining: int
    n: int
    kinds: tuple[str, ...]
    seed: int | None = None
    changed: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the changes were applied."""
        return self.done.wait(timeout)


class VendorApp:
    """A WSGI app for one vendor plus its control surface (the per-vendor control object)."""

    name = "vendor"
    routes: list[Route] = []
    aux_kinds: frozenset[str] = frozenset()  # the auxiliary calls this vendor serves (see aux_of)

    def __init__(self, store: Store, credentials: dict[str, str], rate_limit_per_minute: int | None = None,
                 window_seconds: float = 60.0) -> None:
        """Wire the store, credentials, budgets, faults and request log."""
        self.store = store
        self.credentials = credentials
        self.limiter = RateLimiter(rate_limit_per_minute, window_seconds)
        self.list_limiter = RateLimiter(None, window_seconds)
        self.faults = FaultBook()
        self.faults.aux_kinds = self.aux_kinds
        self.adversarial: int | None = None  # the adversarial profile's seed while it is on
        self.requests: list[tuple[str, str, int]] = []
        self._log_lock = threading.Lock()
        self._pending: list[PendingMutation] = []
        self.timeout_sleep = 5.0
        self.fault_retry_after = 1
        self.bad_token = False
        self.base_url = ""

    # ----- control API -------------------------------------------------------------------------------------------
    def mutate(self, n: int, seed: int | None = None, kinds: Iterable[str] = DEFAULT_KINDS) -> list[str]:
        """Apply n random changes now; return the changed external ids."""
        return self.store.mutate(n, seed, kinds)

    def mutate_after_requests(self, k: int, n: int, kinds: Iterable[str] = DEFAULT_KINDS,
                              seed: int | None = None) -> PendingMutation:
        """Apply n changes right after the k-th further list request; returns a handle with .changed/.wait()."""
        kinds = tuple(kinds)
        self.store.mutate(0, seed, kinds)  # validates kinds now rather than inside a request
        pending = PendingMutation(max(1, int(k)), int(n), kinds, seed)
        with self._log_lock:
            self._pending.append(pending)
        return pending

    def edit(self, ext_id: str, **changes: Any) -> None:
        """Change body fields of one live item now (updated_at moves), e.g. subject=..., custom_fields={...}."""
        if not self.store.edit(str(ext_id), changes):
            raise KeyError(f"no live item {ext_id!r}")

    def inject(self, fault: str, count: int = 1, path_contains: str | None = None, after: int = 0,
               aux: str | None = None) -> None:
        """Make the next `count` matching requests (after skipping `after`) fail with `fault`; `aux` names a kind
        of auxiliary call (see aux_kinds, "aux" = any) instead of, or on top of, a path substring."""
        self.faults.add(fault, count, path_contains, after, aux)

    # ----- adversarial switches ----------------------------------------------------------------------------------
    def set_adversarial(self, on: bool = True, seed: int | None = None) -> None:
        """The adversarial profile: every switch that can break a sync on (or off again), with one seed.

        Deletions and spam leave updated_at alone, items sharing a sort key come back in a new order on every call,
        a share of auxiliary calls fails with 503, plus the vendor's own switches (vendor_switches).
        """
        seed = 0 if seed is None else int(seed)
        self.adversarial = seed if on else None
        self.set_silent_deletes(on)
        self.set_tie_shuffle(seed if on else None)
        self.faults.random_aux(AUX_FAULT_RATE if on else 0.0, seed)
        self.vendor_switches(on)

    def vendor_switches(self, on: bool) -> None:
        """Turn this vendor's own adversarial switches on or off (subclasses)."""

    def switches(self) -> dict[str, Any]:
        """The state of every adversarial switch."""
        return {"adversarial": self.adversarial is not None, "seed": self.adversarial,
                "silent_deletes": not self.store.bump_on_delete, "shuffle_ties": self.store.tie_rng is not None,
                "aux_fault_rate": self.faults.aux_rate}

    def set_silent_deletes(self, on: bool = True) -> None:
        """Deletions and spam leave updated_at unchanged (on), or move it to now like an edit (off)."""
        self.store.bump_on_delete = not on

    def set_tie_shuffle(self, seed: int | None) -> None:
        """Return items with an equal sort key in a new seeded-random order on every call (None = stable)."""
        self.store.tie_rng = None if seed is None else random.Random(seed * 7907 + 11)

    def move(self, ext_id: str, group: Any) -> str:
        """Move an item to another group (a Jira project); returns its new external id."""
        return self.store.move_item(str(ext_id), group)

    def hidden_ids(self) -> set[str]:
        """External ids of live items the account can no longer see."""
        return self.store.hidden_ids()

    def aux_of(self, request: Request) -> frozenset[str]:
        """The kinds of auxiliary call a request is (empty for the main list or search)."""
        return frozenset()

    def clear_faults(self) -> None:
        """Disarm all injected faults and pending mutations."""
        self.faults.clear()
        with self._log_lock:
            self._pending.clear()

    def truth(self) -> dict[str, dict[str, Any]]:
        """Every existing, non-deleted, non-spam item the account can see, as the API would return it."""
        with self.store.lock:
            live = {item.ext_id: self.render_truth(item) for item in self.store.items.values()
                    if item.state == "live" and self.store.visible(item)}
        return json.loads(json.dumps(live))  # a deep copy in exactly the JSON the API sends

    def deleted_ids(self) -> set[str]:
        """External ids of deleted items."""
        return self.store.ids_in("deleted", "gone")

    def spam_ids(self) -> set[str]:
        """External ids of items marked as spam."""
        return self.store.ids_in("spam")

    def archived_ids(self) -> set[str]:
        """External ids of archived items (they vanish from lists without being deleted)."""
        return self.store.ids_in("archived")

    def request_count(self, path_contains: str | None = None, status: int | None = None) -> int:
        """Count logged API requests by path substring and/or status."""
        with self._log_lock:
            return sum(1 for _, path, code in self.requests
                       if (path_contains is None or path_contains in path) and (status is None or code == status))

    def reset_counts(self) -> None:
        """Forget the request log."""
        with self._log_lock:
            self.requests.clear()

    def set_rate_limit(self, per_minute: int | None, window_seconds: float | None = None) -> None:
        """Set the overall budget per window (None = unlimited); starts a fresh window."""
        self.limiter.configure(per_minute, window_seconds)
        self.list_limiter.configure(self.list_limiter.per_window, window_seconds)

    def set_list_rate_limit(self, per_minute: int | None, window_seconds: float | None = None) -> None:
        """Set a sub-budget for ticket-list calls only (e.g. Freshdesk Growth: 20/min)."""
        self.list_limiter.configure(per_minute, window_seconds)

    def set_bad_token(self, on: bool = True) -> None:
        """Treat every credential as invalid (or stop doing so)."""
        self.bad_token = bool(on)

    def set_consistency_delay(self, seconds: float) -> None:
        """Hide changes (creates, edits, deletions) from search for this many seconds: Jira search and
        approximate-count, the Freshworks filter/search results and totals."""
        self.store.consistency_delay = float(seconds)

    def stats(self) -> dict[str, Any]:
        """Counts of items and requests for the control endpoint."""
        with self.store.lock:
            states = Counter(item.state for item in self.store.items.values())
        with self._log_lock:
            by_status = Counter(str(code) for _, _, code in self.requests)
            total = len(self.requests)
        return {"vendor": self.name, "items": sum(states.values()), "states": dict(states), "requests": total,
                "by_status": dict(by_status), "rate_limit": self.limiter.peek(), "faults": self.faults.pending(),
                "bad_token": self.bad_token, "consistency_delay": self.store.consistency_delay,
                "switches": self.switches()}

    # ----- hooks for vendors -------------------------------------------------------------------------------------
    def render_truth(self, item: Item) -> dict[str, Any]:
        """Render an item with all fields (vendor-specific)."""
        raise NotImplementedError

    def authorize(self, request: Request, target: Route) -> Response | None:
        """Return an error response when the request's credentials are not accepted."""
        return None

    def cost(self, request: Request, target: Route) -> int:
        """Credits this request spends."""
        return 1

    def fault_response(self, fault: str) -> Response:
        """Build the response for an injected status fault."""
        raise NotImplementedError

    def rate_limited(self, verdict: Verdict) -> Response:
        """Build a 429 response."""
        raise NotImplementedError

    def add_headers(self, response: Response, verdict: Verdict | None) -> None:
        """Add the vendor's common and rate-limit headers."""

    def not_found(self) -> Response:
        """Build a 404 for an unknown path."""
        return json_response({"code": "not_found", "message": "Not found"}, 404)

    # ----- WSGI --------------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Serve one request: control endpoints, then faults, budget, auth and the route."""
        request = Request(environ)
        if request.path.startswith("/_sim/"):
            return handle_control(self, request)(environ, start_response)
        query = request.query_string.decode("latin-1")
        target = request.path + (f"?{query}" if query else "")
        fault = self.faults.take(target, self.aux_of(request))
        if fault == "reset":
            self._record(request.method, target, 0, False)
            reset_connection(environ)
        if fault == "timeout":
            time.sleep(self.timeout_sleep)
        found, args, allowed = self._match(request)
        response = self._respond(request, found, args, allowed, fault)
        if fault == "truncated":
            response = truncate(response)
        self._record(request.method, target, response.status_code, found is not None and found.is_list)
        return response(environ, start_response)

    def _respond(self, request: Request, found: Route | None, args: dict[str, str], allowed: set[str],
                 fault: str | None) -> Response:
        """Build the response for a routed (or unrouted) request."""
        if fault in INSTANT_FAULTS:
            response = self.fault_response(fault)
            self.add_headers(response, None)
            return response
        verdict = self.limiter.consume(self.cost(request, found) if found else 1)
        if verdict.allowed and found is not None and found.is_list and self.list_limiter.limited:
            verdict = self.list_limiter.consume(1)
        if not verdict.allowed:
            response = self.rate_limited(verdict)
        elif found is None:
            response = self.not_found() if not allowed else json_response({"code": "method_not_allowed"}, 405)
            if allowed:
                response.headers["Allow"] = ", ".join(sorted(allowed))
        else:
            response = self.authorize(request, found) or self._dispatch(request, found, args)
        self.add_headers(response, verdict)
        return response

    def _dispatch(self, request: Request, found: Route, args: dict[str, str]) -> Response:
        """Call the route's handler, turning crashes into a logged 500."""
        try:
            return getattr(self, found.handler)(request, **args)
        except Exception:  # a simulator bug must not hang the client
            log.exception("%s simulator crashed on %s", self.name, request.path)
            return self.fault_response("500")

    def _match(self, request: Request) -> tuple[Route | None, dict[str, str], set[str]]:
        """Find the route for the request; also the methods the path allows."""
        allowed: set[str] = set()
        for candidate in self.routes:
            match = candidate.pattern.match(request.path)
            if match is None:
                continue
            if request.method in candidate.methods:
                return candidate, match.groupdict(), allowed
            allowed |= candidate.methods
        return None, {}, allowed

    def _record(self, method: str, target: str, status: int, is_list: bool) -> None:
        """Log the request and fire any list-request-triggered mutations."""
        due: list[PendingMutation] = []
        with self._log_lock:
            self.requests.append((method, target, status))
            if is_list:
                for pending in self._pending:
                    pending.remaining -= 1
                due = [pending for pending in self._pending if pending.remaining <= 0]
                self._pending = [pending for pending in self._pending if pending.remaining > 0]
        for pending in due:
            pending.changed.extend(self.store.mutate(pending.n, pending.seed, pending.kinds))
            pending.done.set()
