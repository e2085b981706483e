"""Route policy on the views: audit only what a signed-in user did, one trigger view, the sign-in throttle."""

from __future__ import annotations

import threading

from werkzeug.security import generate_password_hash

from tests.live import TEST_PASSWORD, csrf_token_from, ensure_user, signed_in_client
from tickettracker.store.extensions import db
from tickettracker.store.models import AuditEvent
from tickettracker.web.auth.policy import needs_admin, policy_of
from tickettracker.web.auth.users import create_user
from tickettracker.web.views.sync_api import trigger_url


def _audit_rows(app, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = db.select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = list(db.session.scalars(query))
        db.session.remove()
    return rows


def _login(client, username: str, password: str):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_anonymous_state_changes_write_no_audit_row(app, anon_client):
    for method, path in (("post", "/sync/schedules/x"), ("post", "/sync/schedules/JIRA"), ("post", "/api/jira/sync"),
                         ("post", "/api/sync/all"), ("post", "/api/sync/jobs/x/cancel"),
                         ("put", "/api/sync/schedules/JIRA"), ("post", "/api/sync/at-risk")):
        response = getattr(anon_client, method)(path, data={"interval_minutes": "30"})
        assert response.status_code in (302, 303, 401), path
    assert _audit_rows(app) == []


def test_refused_requests_of_signed_in_users_write_no_audit_row(app, viewer_client, client):
    assert viewer_client.post("/sync/schedules/JIRA", data={"interval_minutes": "30"}).status_code == 403
    assert viewer_client.post("/api/jira/sync").status_code == 403
    assert client.post("/sync/schedules/nosuchtype", data={"interval_minutes": "30"}).status_code == 404
    assert [e.action for e in _audit_rows(app)] == ["login", "login"]


def test_what_an_admin_did_is_audited_with_its_target(app, client):
    started = client.post("/api/jira/sync").get_json()
    assert client.post("/sync/schedules/JIRA", data={"interval_minutes": "30"}).status_code == 303
    trigger, schedule = _audit_rows(app, "sync.trigger"), _audit_rows(app, "schedule.change")
    assert [(e.actor, e.target) for e in trigger] == [("admin", started["jobId"])]
    assert trigger[0].detail["type"] == "JIRA" and trigger[0].detail["created"] is True
    assert [(e.actor, e.target, e.detail) for e in schedule] == [("admin", "JIRA", {"interval_minutes": "30"})]


def test_one_trigger_view_serves_every_sync_type(app, client):
    endpoints = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint == "sync_api.trigger"}
    assert set(endpoints) == {"/api/governance/sync", "/api/jira/sync", "/api/sync/at-risk"}
    answers = {path: client.post(path).get_json()["type"] for path in sorted(endpoints)}
    assert answers == {"/api/governance/sync": "Incidents", "/api/jira/sync": "JIRA",
                       "/api/sync/at-risk": "At-risk"}
    with app.test_request_context():
        assert [trigger_url(t) for t in ("Incidents", "JIRA", "At-risk")] == [
            "/api/governance/sync", "/api/jira/sync", "/api/sync/at-risk"]


def test_policy_is_declared_on_the_views(app):
    views = app.view_functions
    assert policy_of(views["auth.login"]).public and policy_of(views["static"]).public
    assert policy_of(views["sync_api.trigger"]).admin and policy_of(views["sync_api.trigger"]).audited
    assert policy_of(views["auth.logout"]).self_service and not needs_admin(views["auth.logout"], "POST")
    assert needs_admin(views["auth.users"], "GET") and not needs_admin(views["pages.tracker"], "GET")


def test_an_undeclared_state_changing_route_is_refused_to_viewers(app_config, app):
    from tickettracker import create_app

    other = create_app(app_config)
    other.add_url_rule("/undeclared", "undeclared", lambda: "changed", methods=["POST"])
    assert signed_in_client(other, "viewer", "viewer").post("/undeclared").status_code == 403
    assert signed_in_client(other, "admin", "admin").post("/undeclared").status_code == 200


def test_a_throttled_sign_in_is_audited_once_per_window(app, anon_client):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    answers = [_login(anon_client, "ann", "wrong-password").status_code for _ in range(9)]
    assert answers == [401] * 5 + [429] * 4
    assert len(_audit_rows(app, "login.throttled")) == 1
    assert len(_audit_rows(app, "login.failed")) == 5


def test_concurrent_wrong_passwords_are_counted_before_the_check(app):
    with app.app_context():
        carol = create_user("carol", TEST_PASSWORD + "-real", "viewer")
        carol.password_hash = generate_password_hash(TEST_PASSWORD + "-real")  # production cost: the check is slow
        db.session.commit()
        db.session.remove()
    clients = [app.test_client() for _ in range(8)]
    tokens = [csrf_token_from(c.get("/login").get_data(as_text=True)) for c in clients]
    barrier, answers = threading.Barrier(8), []

    def attempt(client, token) -> None:
        barrier.wait()
        answers.append(client.post("/login", data={"username": "carol", "password": "wrong-password-123",
                                                   "csrf_token": token}).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [401] * 5 + [429] * 3


def test_someone_else_guessing_does_not_lock_the_user_out_from_their_own_address(app_config, app):
    from tickettracker import create_app

    proxied = create_app({**app_config, "PROXY_COUNT": "1"})
    ensure_user(proxied, "ann", TEST_PASSWORD, "viewer")
    attacker = proxied.test_client()
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    assert [_login(attacker, "ann", "guess").status_code for _ in range(7)] == [401] * 5 + [429] * 2
    victim = proxied.test_client()
    victim.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    assert _login(victim, "ann", TEST_PASSWORD).status_code == 303


def test_a_successful_sign_in_starts_the_count_again(app, anon_client):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    for _ in range(4):
        assert _login(anon_client, "ann", "wrong-password").status_code == 401
    assert _login(anon_client, "ann", TEST_PASSWORD).status_code == 303
    fresh = app.test_client()
    assert [_login(fresh, "ann", "wrong-password").status_code for _ in range(5)] == [401] * 5
