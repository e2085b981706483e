"""Sessions fail closed while Redis is down (writes and /events refused); streams re-check the user in PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.live import TEST_PASSWORD, csrf_token_from, ensure_user, signed_in_client
from tickettracker.store.extensions import db
from tickettracker.store.models import SyncSchedule
from tickettracker.web.auth import users
from tickettracker.web.views import stream

DOWN = "redis://127.0.0.1:1/0"  # nothing listens there


def _redis_down_twin(app_config):
    """The same app (same database and signing key) while its Redis cannot be reached."""
    from tickettracker import create_app

    twin = create_app({**app_config, "REDIS_URL": DOWN})
    twin.config["TESTING"] = True
    return twin


def _with_cookie(app, donor):
    client = app.test_client()
    client.set_cookie("session", donor.get_cookie("session").value)
    client.environ_base["HTTP_X_CSRFTOKEN"] = donor.environ_base["HTTP_X_CSRFTOKEN"]
    return client


def _schedules(app) -> int:
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(SyncSchedule))
        db.session.remove()
    return count


def test_a_signed_out_cookie_cannot_write_while_redis_is_down(app_config, app):
    admin = signed_in_client(app, "admin", "admin")
    cookie_thief = _with_cookie(app, admin)
    assert admin.post("/logout").status_code == 303
    down = _with_cookie(_redis_down_twin(app_config), cookie_thief)
    response = down.post("/sync/schedules/JIRA", data={"interval_minutes": "30", "enabled": "1"})
    assert response.status_code == 503
    assert _schedules(app) == 0
    assert down.put("/api/sync/schedules/JIRA", json={"intervalMinutes": 30}).status_code == 503
    assert _schedules(app) == 0


def test_no_event_stream_while_sessions_cannot_be_checked(app_config, app):
    viewer = signed_in_client(app, "viewer", "viewer")
    down = _with_cookie(_redis_down_twin(app_config), viewer)
    response = down.get("/events", buffered=False)
    assert response.status_code == 503
    response.close()


def test_signing_in_while_redis_is_down_is_a_503_not_a_session_nobody_can_end(app_config, app):
    twin = _redis_down_twin(app_config)
    ensure_user(twin, "ann", TEST_PASSWORD, "viewer")
    client = twin.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "ann", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 503 and "Traceback" not in response.get_data(as_text=True)


def test_a_user_disabled_in_postgresql_loses_their_open_stream(app, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(users, "PRINCIPAL_MAX_AGE", 0.5)  # how long a change made outside the ORM may go unseen
    viewer = signed_in_client(app, "viewer", "viewer")
    response = viewer.get("/events", buffered=False)
    assert response.status_code == 200
    seen, chunks = "", iter(response.response)
    while "event: snapshot" not in seen:
        seen += next(chunks).decode()
    with app.app_context():  # only the database changes: the Redis session is untouched
        db.session.execute(text("UPDATE users SET is_active = false WHERE username = 'viewer'"))
        db.session.commit()
        db.session.remove()
    deadline = time.monotonic() + 10
    for chunk in chunks:
        seen += chunk.decode()
        if "event: signed-out" in seen or time.monotonic() > deadline:
            break
    response.close()
    assert "event: signed-out" in seen


def test_pages_do_not_resend_an_unchanged_session_cookie(app):
    """The cookie is written when the session changes (sign-in, its CSRF token), not re-signed on every answer:
    the sign-in's lifetime counts from the sign-in, and a cached page goes out without a personal header."""
    viewer = signed_in_client(app, "viewer", "viewer")  # its session holds its CSRF token by now
    for path in ("/incidents", "/", "/incidents", "/development"):
        response = viewer.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
