"""The event stream needs a live sign-in and closes when the session ends, without holding a database connection."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.live import signed_in_client
from tickettracker.store.extensions import db
from tickettracker.web.views import stream


def _read_until(response, marker: str, timeout: float = 10.0) -> str:
    """Read the stream until `marker` has arrived; return everything read."""
    seen, deadline = "", time.monotonic() + timeout
    for chunk in response.response:
        seen += chunk.decode() if isinstance(chunk, bytes) else chunk
        if marker in seen or time.monotonic() > deadline:
            break
    return seen


def _drain(response, timeout: float = 10.0) -> str:
    """Read the stream to its end (it must end by itself); return the rest."""
    rest, deadline = "", time.monotonic() + timeout
    for chunk in response.response:
        rest += chunk.decode() if isinstance(chunk, bytes) else chunk
        assert time.monotonic() < deadline, "the stream did not end"
    return rest


def _idle_in_transaction(app) -> int:
    with app.app_context():
        count = db.session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND state = 'idle in transaction' AND pid <> pg_backend_pid()")).scalar()
        db.session.remove()
        return count


def test_anonymous_gets_no_stream(anon_client):
    response = anon_client.get("/events")
    assert response.status_code == 401


def test_signing_out_elsewhere_closes_the_open_stream(app, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.2)
    viewer = signed_in_client(app, "viewer", "viewer")
    response = viewer.get("/events", buffered=False)
    assert response.status_code == 200
    assert "event: snapshot" in _read_until(response, "event: snapshot")
    assert _idle_in_transaction(app) == 0
    twin = app.test_client()
    twin.set_cookie("session", viewer.get_cookie("session").value)
    assert twin.post("/logout", headers={"X-CSRFToken": viewer.environ_base["HTTP_X_CSRFTOKEN"]}).status_code == 303
    assert "event: signed-out" in _drain(response)
    assert viewer.get("/events").status_code == 401


def test_disabling_the_user_closes_the_stream(app, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.2)
    viewer = signed_in_client(app, "viewer", "viewer")
    response = viewer.get("/events", buffered=False)
    _read_until(response, "event: snapshot")
    assert app.test_cli_runner().invoke(args=["users", "disable", "viewer"]).exit_code == 0
    assert "event: signed-out" in _drain(response)


class _SessionClock:
    """Stands in for the sessions module's `time`: monotonic time is real, the wall clock moves when the test says."""

    monotonic = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


def test_an_expired_session_closes_the_stream(app, monkeypatch):
    from tickettracker.web.auth import sessions

    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.2)
    clock = _SessionClock()
    monkeypatch.setattr(sessions, "time", clock)
    viewer = signed_in_client(app, "viewer", "viewer")
    response = viewer.get("/events", buffered=False)
    assert response.status_code == 200
    assert "event: snapshot" in _read_until(response, "event: snapshot")
    clock.now += app.permanent_session_lifetime.total_seconds() + 1  # the sign-in's lifetime is over
    assert "event: signed-out" in _drain(response, timeout=15)


def test_the_page_follows_the_signed_out_event_to_the_sign_in_form(client):
    html = client.get("/incidents").get_data(as_text=True)
    assert 'hx-trigger="sse:signed-out"' in html
