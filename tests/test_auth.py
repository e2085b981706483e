"""Sign-in and sign-out, session expiry and revocation, roles, throttling, API tokens, the CLI and the audit trail."""

from __future__ import annotations

import re

from redis import Redis

from tests.live import TEST_PASSWORD, csrf_token_from, ensure_user, signed_in_client
from tickettracker.store.extensions import db
from tickettracker.store.models import ApiToken, AuditEvent, User
from tickettracker.web.auth import sessions


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)
                                         .order_by(AuditEvent.id)))
        db.session.remove()
        return events


def _login(client, username: str, password: str, next_url: str | None = None):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    form = {"username": username, "password": password, "csrf_token": token}
    if next_url:
        form["next"] = next_url
    return client.post("/login", data=form)


def test_sign_in_sign_out_and_the_audit_trail(app, anon_client):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    assert anon_client.get("/incidents").status_code == 302
    wrong = _login(anon_client, "ann", "not-the-password")
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.get_data(as_text=True)
    right = _login(anon_client, "ann", TEST_PASSWORD, next_url="/incidents")
    assert right.status_code == 303 and right.headers["Location"] == "/incidents"
    assert anon_client.get("/incidents").status_code == 200
    token = csrf_token_from(anon_client.get("/account").get_data(as_text=True))
    assert anon_client.post("/logout", headers={"X-CSRFToken": token}).status_code == 303
    assert anon_client.get("/incidents").status_code == 302
    assert [e.actor for e in _audit(app, "login.failed")] == ["ann"]
    assert [e.actor for e in _audit(app, "login")] == ["ann"] and _audit(app, "login")[0].ip == "127.0.0.1"
    assert [e.actor for e in _audit(app, "logout")] == ["ann"]
    with app.app_context():
        assert db.session.scalar(db.select(User.last_login_at).where(User.username == "ann")) is not None


def test_next_never_leaves_the_site(app):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = _login(app.test_client(), "ann", TEST_PASSWORD, next_url=evil)
        assert response.status_code == 303 and response.headers["Location"] == "/", evil


def test_redirects_keep_where_the_user_wanted_to_go(anon_client):
    response = anon_client.get("/incidents?status=open")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/incidents?status%3Dopen"
    htmx = anon_client.get("/incidents", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/sync"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/login?next=/sync"
    api = anon_client.get("/api/tickets")
    assert api.status_code == 401 and api.get_json()["status"] == 401
    assert api.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_expires_after_session_hours(app, client):
    assert client.get("/incidents").status_code == 200
    hours = app.permanent_session_lifetime.total_seconds()
    with client.session_transaction() as sess:
        sess[sessions.SIGNED_IN_AT] -= int(hours) + 5
    response = client.get("/incidents")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "Your session has ended" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_session_cookie_is_httponly_lax_and_lasts_session_hours(app, anon_client):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    response = _login(anon_client, "ann", TEST_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the tests run on plain HTTP, like the run command


def test_secure_cookie_unless_explicitly_plain_http(app_config):
    from tickettracker import create_app

    assert create_app({**app_config, "SESSION_COOKIE_SECURE": None}).config["SESSION_COOKIE_SECURE"] is True


def test_a_session_ended_in_redis_is_signed_out(app, client, redis_url):
    Redis.from_url(redis_url).delete(*Redis.from_url(redis_url).keys("tickettracker:session:*"))
    assert client.get("/incidents").status_code == 302


def test_disabling_a_user_ends_their_sessions_and_tokens(app, viewer_client):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "token", "create", "viewer", "--name", "script"])
    token = made.output.strip().splitlines()[-1]
    assert viewer_client.get("/api/me").status_code == 200
    result = runner.invoke(args=["users", "disable", "viewer"])
    assert result.exit_code == 0 and "ended 1 session" in result.output
    assert viewer_client.get("/incidents").status_code == 302
    assert app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _login(app.test_client(), "viewer", TEST_PASSWORD).status_code == 401


def test_viewer_reads_but_cannot_trigger_cancel_or_schedule(app, viewer_client):
    assert viewer_client.get("/incidents").status_code == 200
    assert viewer_client.get("/api/sync/status").status_code == 200
    for method, url in (("post", "/api/governance/sync"), ("post", "/api/jira/sync"), ("post", "/api/sync/all"),
                        ("post", "/api/sync/jobs/x/cancel"), ("put", "/api/sync/schedules/JIRA"),
                        ("get", "/api/audit"), ("get", "/admin/users")):
        response = getattr(viewer_client, method)(url, json={})
        assert response.status_code == 403, url
    form = viewer_client.post("/sync/schedules/JIRA", data={"interval_minutes": "30"})
    assert form.status_code == 403 and "permission" in form.get_data(as_text=True)


def test_failed_sign_ins_are_throttled_per_username(app, anon_client):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    for _ in range(5):
        assert _login(anon_client, "ann", "wrong-password").status_code == 401
    blocked = _login(anon_client, "ann", TEST_PASSWORD)
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in blocked.get_data(as_text=True)
    assert _audit(app, "login.throttled")


def test_failed_sign_ins_are_throttled_per_ip(app, anon_client):
    ensure_user(app, "ann", TEST_PASSWORD, "viewer")
    for number in range(20):
        assert _login(anon_client, f"nobody{number}", "wrong-password").status_code == 401
    assert _login(anon_client, "ann", TEST_PASSWORD).status_code == 429


def test_sync_triggers_are_throttled_per_user(app, client):
    answers = [client.post("/api/jira/sync").status_code for _ in range(31)]
    assert answers == [202] * 30 + [429]
    limited = client.post("/api/jira/sync")
    assert limited.get_json()["error"].startswith("Too many sync requests")
    assert 0 < int(limited.headers["Retry-After"]) <= 60


def test_api_tokens_are_hashed_scoped_to_the_api_and_revocable(app, client, viewer_client):
    page = viewer_client.post("/account/tokens", data={"name": "nightly", "password": TEST_PASSWORD})
    assert page.status_code == 201
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True)).group(1)
    script = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/me", headers=bearer).get_json() == {"username": "viewer", "role": "viewer",
                                                                "viaToken": True}
    assert script.get("/api/tickets", headers=bearer).status_code == 200
    assert script.post("/api/jira/sync", headers=bearer).status_code == 403
    assert script.get("/incidents", headers=bearer).status_code == 401  # tokens open the JSON API only
    assert script.get("/api/me", headers={"Authorization": "Bearer tt_forged"}).status_code == 401
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken))
        assert token not in row.token_hash and len(row.token_hash) == 64
        token_id = row.id
        db.session.remove()
    assert "not shown again" in page.get_data(as_text=True)
    assert token not in viewer_client.get("/account").get_data(as_text=True)
    assert viewer_client.post(f"/account/tokens/{token_id}/revoke").status_code == 303
    assert script.get("/api/me", headers=bearer).status_code == 401


def test_an_admin_token_triggers_without_csrf(app, client):
    result = app.test_cli_runner().invoke(args=["users", "token", "create", "admin", "--scope", "sync"])
    token = result.output.strip().splitlines()[-1]
    response = app.test_client().post("/api/jira/sync", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202
    trigger = _audit(app, "sync.trigger")[-1]
    assert trigger.actor == "admin" and trigger.target == response.get_json()["jobId"]
    revoke = app.test_cli_runner().invoke(args=["users", "token", "revoke", token_id(app)])
    assert revoke.exit_code == 0
    assert app.test_client().post("/api/jira/sync", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def token_id(app) -> str:
    with app.app_context():
        found = str(db.session.scalar(db.select(ApiToken.id)))
        db.session.remove()
        return found


def test_users_cli_create_set_role_disable(app):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "bob", "--role", "viewer"],
                         input="a-long-password-1\na-long-password-1\n")
    assert made.exit_code == 0, made.output
    assert runner.invoke(args=["users", "create", "bob"], input="x" * 12 + "\n" + "x" * 12 + "\n").exit_code != 0
    assert runner.invoke(args=["users", "create", "short"], input="short\nshort\n").exit_code != 0
    assert runner.invoke(args=["users", "set-role", "bob", "admin"]).exit_code == 0
    assert runner.invoke(args=["users", "disable", "bob"]).exit_code == 0
    with app.app_context():
        bob = db.session.scalar(db.select(User).where(User.username == "bob"))
        assert bob.role == "admin" and bob.is_active is False and bob.password_hash.startswith("scrypt:")
        db.session.remove()
    assert "bob" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "set-role", "nobody", "admin"]).exit_code != 0


def test_demo_mode_creates_a_demo_admin_with_a_fresh_password_each_start(app, app_config):
    from tickettracker import create_app
    from tickettracker.runtime.bootstrap import prepare_instance

    demo = create_app({**app_config, "DEMO_MODE": "true"})
    with demo.app_context():
        first = prepare_instance(demo)
        second = prepare_instance(demo)
        users = list(db.session.scalars(db.select(User)))
        db.session.remove()
    password = first[0].rsplit(" ", 1)[1]
    assert "created" in first[0] and "demo-admin" in first[0] and len(users) == 1
    assert users[0].role == "admin" and password not in users[0].password_hash
    assert second[0].rsplit(" ", 1)[1] != password
    client = demo.test_client()
    assert _login(client, "demo-admin", password).status_code == 401
    assert _login(client, "demo-admin", second[0].rsplit(" ", 1)[1]).status_code == 303


def test_without_demo_mode_the_run_command_says_how_to_make_an_admin(app):
    from tickettracker.runtime.bootstrap import prepare_instance

    with app.app_context():
        assert "users create NAME --role admin" in prepare_instance(app)[0]
        ensure_user(app, "root", TEST_PASSWORD, "admin")
        assert prepare_instance(app) == []


def test_trigger_and_cancel_are_audited_and_shown_to_admins(app, client, viewer_client):
    job_id = client.post("/api/jira/sync").get_json()["jobId"]
    assert client.post(f"/api/sync/jobs/{job_id}/cancel").status_code == 202
    assert client.put("/api/sync/schedules/JIRA", json={"intervalMinutes": 30}).status_code == 200
    items = client.get("/api/audit").get_json()["items"]
    actions = [(i["action"], i["actor"], i["target"]) for i in items]
    assert ("sync.cancel", "admin", job_id) in actions and ("sync.trigger", "admin", job_id) in actions
    assert ("schedule.change", "admin", "JIRA") in actions
    assert [i["detail"].get("type") for i in items if i["action"] == "sync.trigger"] == ["JIRA"]
    fragment = client.get("/sync/audit").get_data(as_text=True)
    assert "started a sync" in fragment and "cancelled a sync" in fragment and job_id[:8] in fragment
    assert viewer_client.get("/sync/audit").status_code == 403
    older = client.get(f"/api/audit?before={items[0]['id']}&limit=1").get_json()
    assert [i["id"] for i in older["items"]] == [items[1]["id"]] and older["nextBefore"] == items[1]["id"]


def test_admins_manage_users_in_the_browser(app, client):
    created = client.post("/admin/users", data={"username": "carol", "password": "p" * 14, "role": "viewer"})
    assert created.status_code == 303
    with app.app_context():
        carol_id = db.session.scalar(db.select(User.id).where(User.username == "carol"))
        admin_id = db.session.scalar(db.select(User.id).where(User.username == "admin"))
        db.session.remove()
    assert client.post(f"/admin/users/{carol_id}", data={"role": "admin", "active": "0"}).status_code == 303
    assert client.post(f"/admin/users/{admin_id}", data={"active": "0"}).status_code == 303
    page = client.get("/admin/users").get_data(as_text=True)
    assert "carol" in page and "You cannot change your own role" in page
    with app.app_context():
        carol = db.session.get(User, carol_id)
        assert carol.role == "admin" and not carol.is_active and db.session.get(User, admin_id).is_active
        db.session.remove()
    bad = client.post("/admin/users", data={"username": "dave", "password": "short", "role": "viewer"})
    assert bad.status_code == 422 and "at least 12 characters" in bad.get_data(as_text=True)


def test_signed_in_client_helper_works_for_other_roles(app):
    assert signed_in_client(app, "erin", "viewer").get("/api/me").get_json()["role"] == "viewer"


def test_the_sync_history_page_shows_the_audit_trail_to_admins_only(app, client, viewer_client):
    client.post("/api/jira/sync")
    page = client.get("/sync").get_data(as_text=True)
    assert 'id="audit-trail"' in page and "started a sync" in page and "signed in" in page
    assert 'id="audit-trail"' not in viewer_client.get("/sync").get_data(as_text=True)


def test_behind_a_trusted_proxy_the_client_address_is_audited_and_throttled(app_config, app):
    from tickettracker import create_app

    proxied = create_app({**app_config, "PROXY_COUNT": "1"})
    ensure_user(proxied, "ann", TEST_PASSWORD, "viewer")
    for number in range(20):
        client = proxied.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
        assert _login(client, f"nobody{number}", "wrong").status_code == 401
    other = proxied.test_client()
    other.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    assert _login(other, "ann", TEST_PASSWORD).status_code == 303  # another client is not locked out
    assert {e.ip for e in _audit(proxied, "login.failed")} == {"203.0.113.9"}
