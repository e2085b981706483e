"""The render cache: fresh after every commit, nothing personal shared between users, pages without Redis."""

from __future__ import annotations

import html
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from redis import Redis

from tests.factories import add_tickets
from tests.live import csrf_token_from, signed_in_client
from tickettracker.connectors.base import TicketRecord
from tickettracker.store import generations
from tickettracker.store.extensions import make_redis
from tickettracker.sync import runs
from tickettracker.sync.ingest import mark_deleted, write_page
from tickettracker.web import render_cache

T0 = datetime.now(timezone.utc) - timedelta(days=2)
HTMX = {"HX-Request": "true"}
# Every cached page and partial of the Incidents data set, and what it looks like when it shows a ticket's subject.
INCIDENT_PAGES = [("/incidents", {}), ("/incidents", HTMX), ("/incidents?options=1", HTMX),
                  ("/incidents?sort=priority", {}), ("/incidents?q=row", HTMX)]
DASHBOARD_PAGES = [("/", {}), ("/", HTMX), ("/api/cockpit/data", {})]


def record(n: int, **changes) -> TicketRecord:
    """A Freshdesk record numbered n, open and updated recently (so it sorts first)."""
    base = TicketRecord(source="freshdesk", external_id=str(n), kind="incident", subject=f"Ticket {n}",
                        status_code="2", status_label="Open", status_category="open",
                        updated_at=T0 + timedelta(minutes=n), created_at=T0, raw={"id": n})
    return replace(base, **changes)


@pytest.fixture(autouse=True)
def fresh_breaker():
    """Every test starts with the cache reachable (a test that takes Redis away trips the breaker)."""
    render_cache._Breaker.until = 0.0
    yield
    render_cache._Breaker.until = 0.0


def cache_entries(redis_url: str) -> list[bytes]:
    return [k for k in Redis.from_url(redis_url).keys(f"{render_cache.PREFIX}*") if not k.endswith(b":lock")]


def backlog(client) -> str:
    answer = client.get("/api/cockpit/data")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_a_commit_makes_every_cached_page_and_partial_show_the_new_row(app, client, redis_url):
    with app.app_context():
        write_page("freshdesk", [record(n) for n in range(1, 6)], None)
    before = {path + str(headers): client.get(path, headers=headers) for path, headers in INCIDENT_PAGES}
    assert all(answer.status_code == 200 for answer in before.values())
    numbers = backlog(client)
    for path, headers in DASHBOARD_PAGES:
        assert client.get(path, headers=headers).status_code == 200
    assert len(cache_entries(redis_url)) >= len(INCIDENT_PAGES) + len(DASHBOARD_PAGES) - 1

    # A row written behind the cache's back (no commit path, no bump) is not shown: the pages really are cached.
    with app.app_context():
        add_tickets(1, start=900, subject="Sneaked in without a bump", updated_at=T0 + timedelta(days=1))
    assert "Sneaked in" not in client.get("/incidents").get_data(as_text=True)

    with app.app_context():
        write_page("freshdesk", [record(77, subject="Brand new row after the commit",
                                        updated_at=T0 + timedelta(days=1, minutes=1))], None)
    for path, headers in INCIDENT_PAGES:
        text = client.get(path, headers=headers).get_data(as_text=True)
        assert "Brand new row after the commit" in text, (path, headers)
    assert backlog(client) != numbers
    for path, headers in DASHBOARD_PAGES:
        assert client.get(path, headers=headers).status_code == 200


def test_a_tombstone_and_a_run_ending_invalidate_too(app, client):
    with app.app_context():
        write_page("freshdesk", [record(1, subject="Soon deleted")], None)
    assert "Soon deleted" in client.get("/incidents").get_data(as_text=True)
    with app.app_context():
        mark_deleted("freshdesk", ["1"])
    assert "Soon deleted" not in client.get("/incidents").get_data(as_text=True)

    with app.app_context():
        before = generations.current(make_redis(app.config["REDIS_URL"]), [generations.RUNS])
        run = runs.create_run("JIRA", "manual", "admin").run
        runs.mark_running(run.id)
        runs.finish(run.id, runs.SyncStatus.COMPLETED, "done")
        after = generations.current(make_redis(app.config["REDIS_URL"]), [generations.RUNS])
    assert after[0] == before[0] + 3


def test_per_user_content_never_crosses_users_through_the_cache(app, client, redis_url):
    viewer = signed_in_client(app, "viewer", "viewer")
    other = signed_in_client(app, "viewer2", "viewer")
    # The cache is empty, so the pages offer admins a Sync button; viewers get a note instead.
    pages = [("/incidents", {}), ("/incidents", HTMX), ("/", {}), ("/", HTMX)]
    for path, headers in pages:
        admin_text = client.get(path, headers=headers).get_data(as_text=True)
        viewer_text = viewer.get(path, headers=headers).get_data(as_text=True)
        other_text = other.get(path, headers=headers).get_data(as_text=True)
        assert "hx-post=" in admin_text, path
        assert "hx-post=" not in viewer_text and "an admin can start one" in viewer_text, (path, headers)
        if not headers:
            tokens = {csrf_token_from(t) for t in (admin_text, viewer_text, other_text)}
            assert len(tokens) == 3, "each user sees their own CSRF token"
            assert ">admin<" in admin_text and ">viewer<" in viewer_text and ">viewer2<" in other_text
            assert ">admin<" not in viewer_text and ">viewer<" not in other_text
    roles = {key.split(b":")[3] for key in cache_entries(redis_url)}
    assert roles == {b"admin", b"viewer"}


def test_a_session_keeps_one_signed_csrf_token_that_is_accepted_and_its_own(app, client):
    viewer = signed_in_client(app, "viewer", "viewer")
    first = csrf_token_from(viewer.get("/incidents").get_data(as_text=True))
    time.sleep(1.1)  # a token signed now would carry a newer timestamp
    assert csrf_token_from(viewer.get("/").get_data(as_text=True)) == first
    assert csrf_token_from(viewer.get("/incidents").get_data(as_text=True)) == first
    assert csrf_token_from(client.get("/incidents").get_data(as_text=True)) != first
    assert viewer.post("/logout", headers={"X-CSRFToken": first[:-2] + "xx"}).status_code == 400
    assert viewer.post("/logout", headers={"X-CSRFToken": first}).status_code == 303


def test_the_shell_fills_in_each_users_own_name_escaped_and_leaves_no_stand_in(app, client):
    eve = signed_in_client(app, "<i>eve</i>&co", "viewer")
    viewer = signed_in_client(app, "viewer", "viewer")
    for path, headers in [("/incidents", {}), ("/", {})]:
        for _ in range(2):  # the second answer comes from the process's shell, not from a template
            text = eve.get(path, headers=headers).get_data(as_text=True)
            assert "&lt;i&gt;eve&lt;/i&gt;&amp;co" in text and "<i>eve</i>" not in text, path
            assert ">viewer<" not in text
            viewer_text = viewer.get(path, headers=headers).get_data(as_text=True)
            assert ">viewer<" in viewer_text and "eve</i>" not in html.unescape(viewer_text)
            for page in (text, viewer_text, client.get(path).get_data(as_text=True)):
                assert render_cache._STAND_IN not in page


def test_a_role_change_reaches_the_next_request_though_each_process_keeps_its_users(app):
    from tickettracker.web.auth.users import set_role

    viewer = signed_in_client(app, "viewer", "viewer")
    assert "hx-post=" not in viewer.get("/incidents").get_data(as_text=True)
    with app.app_context():
        set_role("viewer", "admin")
    assert "hx-post=" in viewer.get("/incidents").get_data(as_text=True)
    with app.app_context():
        set_role("viewer", "viewer")
    assert "hx-post=" not in viewer.get("/incidents").get_data(as_text=True)


def test_a_user_disabled_behind_the_apps_back_is_refused_within_the_principal_max_age(app, monkeypatch):
    from sqlalchemy import text

    from tickettracker.store.extensions import db
    from tickettracker.web.auth import users

    monkeypatch.setattr(users, "PRINCIPAL_MAX_AGE", 0.3)
    viewer = signed_in_client(app, "viewer", "viewer")
    assert viewer.get("/incidents").status_code == 200
    with app.app_context():  # raw SQL: no ORM event, no generation bump, the Redis session untouched
        db.session.execute(text("UPDATE users SET is_active = false WHERE username = 'viewer'"))
        db.session.commit()
    time.sleep(0.4)
    assert viewer.get("/incidents").status_code == 302


def test_etag_answers_304_until_the_data_changes(app, client):
    with app.app_context():
        write_page("freshdesk", [record(1)], None)
    for path, headers in [("/incidents", HTMX), ("/incidents", {}), ("/", {}), ("/api/cockpit/data", {})]:
        first = client.get(path, headers=headers)
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "private, no-cache"
        assert client.get(path, headers={**headers, "If-None-Match": etag}).status_code == 304
        with app.app_context():
            write_page("freshdesk", [record(2, subject=f"changed for {path}{headers}")], None)
        again = client.get(path, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 200 and again.headers["ETag"] != etag


def test_the_full_page_etag_is_personal(app, client):
    viewer = signed_in_client(app, "viewer", "viewer")
    assert client.get("/incidents").headers["ETag"] != viewer.get("/incidents").headers["ETag"]
    assert client.get("/incidents", headers=HTMX).headers["ETag"] != \
        viewer.get("/incidents", headers=HTMX).headers["ETag"]  # the role differs


def test_pages_render_uncached_when_redis_is_down(app, client):
    with app.app_context():
        write_page("freshdesk", [record(1, subject="Visible without Redis")], None)
    app.extensions["tt_redis"] = make_redis("redis://127.0.0.1:1/0", socket_timeout=1)
    for path, headers in INCIDENT_PAGES + DASHBOARD_PAGES:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, headers, answer.status_code)
        assert "ETag" not in answer.headers
    assert "Visible without Redis" in client.get("/incidents").get_data(as_text=True)


def test_concurrent_misses_render_once(app):
    renders: list[int] = []
    results: list[str] = []

    def slow() -> render_cache.Fragment:
        renders.append(1)
        time.sleep(0.3)
        return render_cache.Fragment("<p>rendered</p>")

    def reader() -> None:
        with app.test_request_context("/incidents?x=1"):
            results.append(render_cache.cached("stampede", (generations.INCIDENTS,), slow).html)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["<p>rendered</p>"] * 8
    assert len(renders) == 1


def test_the_cache_keeps_within_its_memory_cap(app, redis_url):
    app.extensions["tt_settings"] = replace(app.extensions["tt_settings"], render_cache_max_mb=1)
    big = "x" * 300_000
    for n in range(10):
        with app.test_request_context(f"/incidents?n={n}"):
            render_cache.cached("big", (generations.INCIDENTS,), lambda: render_cache.Fragment(big))
    redis = Redis.from_url(redis_url)
    assert int(redis.get(render_cache.TOTAL)) <= 1024 * 1024
    assert 1 <= len(cache_entries(redis_url)) <= 3
    with app.test_request_context("/incidents?n=9"):  # the newest entry is still there
        assert render_cache.cached("big", (generations.INCIDENTS,), lambda: render_cache.Fragment("")).html == big
