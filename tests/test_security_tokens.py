"""API tokens: read-only unless scoped, expiring, created only with the password, dead after a password change or
disabling (for good); a password change ends the user's other sessions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.live import TEST_PASSWORD, signed_in_client
from tickettracker.store.extensions import db
from tickettracker.store.models import ApiToken

NEW_PASSWORD = "a-brand-new-password-42"


def _create(client, password: str = TEST_PASSWORD, **form):
    return client.post("/account/tokens", data={"name": "script", "password": password, **form})


def _token(page) -> str:
    return re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True)).group(1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rows(app) -> list[ApiToken]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(ApiToken).order_by(ApiToken.id)))
        db.session.remove()
    return rows


def test_a_new_token_reads_only_unless_given_more_scopes(app, client):
    script = app.test_client()
    read = _token(_create(client))
    assert script.get("/api/tickets", headers=_bearer(read)).status_code == 200
    refused = script.post("/api/jira/sync", headers=_bearer(read))
    assert refused.status_code == 403 and "'sync' scope" in refused.get_json()["error"]
    assert script.get("/api/audit", headers=_bearer(read)).status_code == 403
    sync = _token(_create(client, scope="sync"))
    assert script.post("/api/jira/sync", headers=_bearer(sync)).status_code == 202
    scheduled = script.put("/api/sync/schedules/JIRA", json={"intervalMinutes": 30}, headers=_bearer(sync))
    assert scheduled.status_code == 200
    assert script.get("/api/audit", headers=_bearer(sync)).status_code == 403
    admin = _token(_create(client, scope="admin"))
    assert script.get("/api/audit", headers=_bearer(admin)).status_code == 200
    assert [r.scopes for r in _rows(app)] == ["read", "read sync", "read admin"]


def test_a_viewer_cannot_create_a_token_with_more_than_read(app, viewer_client):
    page = _create(viewer_client, scope="sync")
    assert page.status_code == 422 and "only admins" in page.get_data(as_text=True)
    assert _rows(app) == []


def test_creating_a_token_asks_for_the_password_again(app, client):
    for password in ("", "wrong-password-123"):
        page = _create(client, password=password)
        assert page.status_code == 422 and "password is wrong" in page.get_data(as_text=True)
    assert _rows(app) == []


def test_tokens_expire_after_90_days_by_default_shown_on_the_account_page(app, client):
    token = _token(_create(client))
    (row,) = _rows(app)
    left = row.expires_at - datetime.now(timezone.utc)
    assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
    assert row.expires_at.isoformat(timespec="seconds")[:16] in client.get("/account").get_data(as_text=True)
    with app.app_context():
        db.session.execute(db.update(ApiToken).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    assert app.test_client().get("/api/me", headers=_bearer(token)).status_code == 401
    assert "expired" in client.get("/account").get_data(as_text=True)
    short = _create(client, days="7")
    assert short.status_code == 201
    assert _create(client, days="400").status_code == 422


def test_a_password_change_revokes_tokens_and_ends_other_sessions(app):
    me = signed_in_client(app, "erin", "admin")
    elsewhere = signed_in_client(app, "erin", "admin")
    token = _token(_create(me, scope="sync"))
    assert app.test_client().get("/api/me", headers=_bearer(token)).status_code == 200
    wrong = me.post("/account/password", data={"current_password": "nope-nope-nope", "new_password": NEW_PASSWORD,
                                               "confirm_password": NEW_PASSWORD})
    assert wrong.status_code == 422
    changed = me.post("/account/password", data={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD,
                                                 "confirm_password": NEW_PASSWORD})
    assert changed.status_code == 303
    assert app.test_client().get("/api/me", headers=_bearer(token)).status_code == 401
    assert elsewhere.get("/incidents").status_code == 302  # the other session has ended
    assert me.get("/incidents").status_code == 200  # this one goes on


def test_the_cli_password_change_revokes_tokens_too(app, client):
    token = _token(_create(client))
    result = app.test_cli_runner().invoke(args=["users", "set-password", "admin", "--generate-password"])
    assert result.exit_code == 0, result.output
    assert app.test_client().get("/api/me", headers=_bearer(token)).status_code == 401
    assert client.get("/incidents").status_code == 302


def test_tokens_stay_dead_when_a_disabled_user_is_enabled_again(app, client):
    viewer = signed_in_client(app, "viewer", "viewer")
    token = _token(_create(viewer))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "disable", "viewer"]).exit_code == 0
    assert runner.invoke(args=["users", "enable", "viewer"]).exit_code == 0
    assert app.test_client().get("/api/me", headers=_bearer(token)).status_code == 401
