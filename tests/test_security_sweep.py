"""A hostile-input sweep: every route of the URL map, as anonymous, viewer and admin, with hostile values in every
path, query and form parameter (and JSON bodies), plus a bounded set of random cases per route.

No answer may be a 500 or carry a traceback; every state-changing request without a valid CSRF token, or without
the role it needs, must be refused and write nothing (the row count of every table is the same before and after).
The seed is fixed and printed (SWEEP_SEED overrides it) with the number of requests made per role."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from tests.conftest import TABLES
from tests.factories import seed_route_values
from tests.live import signed_in_client
from tickettracker.store.extensions import db
from tickettracker.web.auth.policy import needs_admin, policy_of

pytestmark = pytest.mark.slow  # thousands of requests

SEED = int(os.environ.get("SWEEP_SEED", "20261207"))
RANDOM_CASES = 10  # random cases per route and method, on top of the fixed hostile path values
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SKIPPED = {"auth.logout"}  # walked separately: it ends the session the sweep uses


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


HOSTILE: list[str] = [
    "", " ", "0", "-1", "-9223372036854775809", "9" * 40, "1e309", "NaN", "inf", "x" * 5000, "\x00", "a\x00b",
    "../../../etc/passwd", "..%2f..%2fetc", "' OR 1=1 --", "\"; DROP TABLE users; --", "1; SELECT pg_sleep(5)",
    "{{7*7}}", "{% for x in range(9) %}x{% endfor %}", "${7*7}", "<script>alert(1)</script>", "\u202e\u200b\ufeff",
    "😀" * 40, "%00", "%", "null", "true", "[]", "{}", "Incidents", "JIRA", "At-risk", "admin", "viewer",
    _cursor({"v": "x", "id": 1}), _cursor({"v": {"a": 1}, "id": 1}), _cursor({"v": 1, "id": 10**30}),
    _cursor({"t": "2026-01-01T00:00:00", "id": "x"}), _cursor([1]), "2026-02-30", "2026-01-01T00:00:00+99:00",
    "-0", "0x10", "１２３",
]
PATH_HOSTILE = ["", "0", "-1", "9" * 40, "x" * 5000, "\x00", "a\x00b", "../../../etc/passwd", "' OR 1=1 --",
                "{{7*7}}", "<script>alert(1)</script>", "\u202e\u200b\ufeff", "😀" * 40, "%00", "%", "null",
                "Incidents", "At-risk", "１２３", _cursor({"v": {"a": 1}, "id": 1})]
QUERY_NAMES = ["view", "sort", "dir", "cursor", "limit", "q", "status", "priority", "source", "group", "assignee",
               "project", "overdue", "at_risk", "fr_overdue", "unassigned", "escalated", "age", "stuck",
               "created_from", "created_to", "resolved_from", "resolved_to", "waiting_dev", "type", "trigger", "from",
               "to", "before", "action", "full", "period", "options", "last_event_id", "next", "saved"]
FORM_NAMES = ["username", "password", "next", "interval_minutes", "enabled", "horizon_minutes", "role", "active",
              "name", "scope", "days", "current_password", "new_password", "confirm_password"]
JSON_NAMES = ["intervalMinutes", "enabled", "horizonMinutes", "full"]
JSON_VALUES: list[Any] = [None, True, -1, 10**30, 1e308, "x" * 3000, [], {"a": {"b": [1]}}, "\x00", 7.5, "60"]
REFUSED_WITHOUT_CSRF = {400, 401, 302, 303, 404, 405}
REFUSED_WITHOUT_ROLE = {400, 403, 404, 405}


@dataclass
class Case:
    """One request to send."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    form: list[tuple[str, str]] | None = None
    body: Any = None


@dataclass
class Route:
    """One rule and method of the URL map, with how to fill its path parameters."""

    endpoint: str
    method: str
    rule: str
    arguments: tuple[str, ...]
    defaults: dict[str, Any]

    def path(self, values: dict[str, str]) -> str:
        """Build the path with the given (quoted) values for its parameters."""
        filled = {**{k: str(v) for k, v in self.defaults.items()}, **values}
        return re.sub(r"<(?:[^>]*:)?(\w+)>", lambda m: quote(filled[m.group(1)], safe=""), self.rule)


def _seed(app) -> dict[str, str]:
    """One of everything a path parameter can name."""
    users = (("viewer", "viewer"), ("admin", "admin"))
    return {**seed_route_values(app, "sweep", users), "view": "incidents"}


def _routes(app) -> list[Route]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            arguments = tuple(sorted(rule.arguments - set(rule.defaults or {})))
            found.append(Route(rule.endpoint, method, rule.rule, arguments, dict(rule.defaults or {})))
    return sorted(found, key=lambda r: (r.rule, r.method))


def _cases(route: Route, valid: dict[str, str], rng: random.Random) -> Iterator[Case]:
    """The fixed hostile values in each path parameter, then random mixes in query, form and JSON."""
    base = {name: valid.get(name, "x") for name in route.arguments}
    for name in route.arguments:
        for value in PATH_HOSTILE:
            yield Case(route.method, route.path({**base, name: value}))
    for _ in range(RANDOM_CASES):
        values = {n: rng.choice(HOSTILE) if rng.random() < 0.3 else v for n, v in base.items()}
        query = [(rng.choice(QUERY_NAMES), rng.choice(HOSTILE)) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.3:  # repeated parameters
            query += [(query[0][0], rng.choice(HOSTILE)) for _ in range(rng.randint(1, 3))]
        case = Case(route.method, route.path(values), query)
        if route.method in UNSAFE:
            if route.rule.startswith("/api/") and rng.random() < 0.6:
                case.body = {rng.choice(JSON_NAMES): rng.choice(JSON_VALUES) for _ in range(rng.randint(0, 4))}
                if rng.random() < 0.2:
                    case.body = rng.choice([[1, 2], "text", 5, None])
            else:
                case.form = [(rng.choice(FORM_NAMES), rng.choice(HOSTILE)) for _ in range(rng.randint(1, 6))]
        yield case


def _send(client, case: Case, csrf: str | None):
    started = time.perf_counter()
    try:
        return _open(client, case, csrf)
    finally:
        SPENT[case.path.split("?")[0][:30]] += time.perf_counter() - started


SPENT: Counter[str] = Counter()


def _open(client, case: Case, csrf: str | None):
    headers = {"X-CSRFToken": csrf} if csrf else {}
    if case.path.startswith("/events"):
        response = client.open(case.path, method=case.method, query_string=case.query, buffered=False)
        response.close()
        return response, ""
    kwargs: dict[str, Any] = {"query_string": case.query, "headers": headers}
    if case.body is not None or (case.method in UNSAFE and case.form is None and case.path.startswith("/api/")):
        kwargs["data"] = json.dumps(case.body)
        kwargs["content_type"] = "application/json"
    elif case.form is not None:
        kwargs["data"] = MultiDict(case.form)
    response = client.open(case.path, method=case.method, **kwargs)
    return response, response.get_data(as_text=True)


def _counts(app) -> dict[str, int]:
    with app.app_context():
        tables = db.session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                         "AND tablename <> 'alembic_version'")).scalars().all()
        assert set(TABLES) <= set(tables)
        counts = {t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}  # noqa: S608
        db.session.remove()
    return counts


def _where(role: str, case: Case) -> str:
    """Describe a case briefly (long hostile values cut)."""
    def cut(value: Any) -> str:
        return repr(value)[:40]

    params = [(name, cut(value)) for name, value in case.query[:4]]
    sent = [(name, cut(value)) for name, value in (case.form or [])[:4]] or cut(case.body)
    return f"{role} {case.method} {case.path[:100]} {params} {sent}"


def _check(response, body: str, where: str) -> None:
    assert response.status_code != 500, where
    assert "Traceback" not in body and 'File "' not in body, where


def test_hostile_input_sweep(app, capsys):
    valid = _seed(app)
    routes = [r for r in _routes(app) if r.endpoint not in SKIPPED]
    assert len(routes) > 30
    rng = random.Random(SEED)
    plan = [(route, list(_cases(route, valid, rng))) for route in routes]
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    before = _counts(app)

    # 1. Anonymous: nothing but the public views answers, and no state change gets through (no CSRF token).
    anonymous = app.test_client()
    for route, cases in plan:
        for case in cases:
            response, body = _send(anonymous, case, None)
            sent["anonymous"] += 1
            statuses[response.status_code] += 1
            where = _where("anonymous", case)
            _check(response, body, where)
            if case.method in UNSAFE:
                assert response.status_code in REFUSED_WITHOUT_CSRF, where
            elif not policy_of(app.view_functions.get(route.endpoint)).public:
                assert response.status_code in {302, 400, 401, 404}, where  # 400: a NUL or oversized value
    assert _counts(app) == before, "an anonymous request wrote to the database"

    # 2. Viewer and admin without a CSRF token: every state change refused, nothing written.
    clients = {role: signed_in_client(app, role, role) for role in ("viewer", "admin")}
    tokens = {role: client.environ_base.pop("HTTP_X_CSRFTOKEN") for role, client in clients.items()}
    before = _counts(app)
    for role, client in clients.items():
        for _route, cases in plan:
            for case in cases:
                if case.method not in UNSAFE:
                    continue
                response, body = _send(client, case, None)
                sent[role] += 1
                statuses[response.status_code] += 1
                where = _where(f"{role} without CSRF", case)
                _check(response, body, where)
                assert response.status_code in {400, 404, 405}, where
    assert _counts(app) == before, "a state change without a CSRF token wrote to the database"

    # 3. The viewer with a valid CSRF token: admin-only views refuse and write nothing; the rest answers.
    viewer = clients["viewer"]
    admin_only = [(r, c) for r, c in plan if needs_admin(app.view_functions.get(r.endpoint), r.method)]
    others = [(r, c) for r, c in plan if not needs_admin(app.view_functions.get(r.endpoint), r.method)]
    for group in (admin_only, others):
        for _route, cases in group:
            for case in cases:
                response, body = _send(viewer, case, tokens["viewer"])
                sent["viewer"] += 1
                statuses[response.status_code] += 1
                where = _where("viewer", case)
                _check(response, body, where)
                if group is admin_only:
                    assert response.status_code in REFUSED_WITHOUT_ROLE, where
        if group is admin_only:
            assert _counts(app) == before, "a viewer's request to an admin-only view wrote to the database"

    # 4. The admin with a valid CSRF token: anything may change, but nothing fails.
    admin = clients["admin"]
    for _route, cases in plan:
        for case in cases:
            response, body = _send(admin, case, tokens["admin"])
            sent["admin"] += 1
            statuses[response.status_code] += 1
            _check(response, body, _where("admin", case))

    # 5. Signing out last, with hostile values too.
    for role, client in clients.items():
        for value in HOSTILE[:10]:
            response, body = _send(client, Case("POST", "/logout", [("next", value)], [("next", value)]), None)
            sent[role] += 1
            _check(response, body, f"{role} POST /logout")
            assert response.status_code == 400

    total = sum(sent.values())
    with capsys.disabled():
        print(f"\nhostile-input sweep (seed {SEED}): {total} requests over {len(routes)} routes; "
              + ", ".join(f"{role} {count}" for role, count in sent.items())
              + "; statuses " + ", ".join(f"{code}×{n}" for code, n in sorted(statuses.items())))
        print("slowest paths (s): " + ", ".join(f"{p} {t:.1f}" for p, t in SPENT.most_common(6)))
    assert total >= 2000
