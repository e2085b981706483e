"""App factory, configuration, schema and the read side of the tracker pages."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.factories import add_tickets
from tickettracker import create_app
from tickettracker.core.config import ConfigError, load_settings, mask_url
from tickettracker.store.extensions import db
from tickettracker.store.health import ServiceUnavailable, check_database, check_redis


def test_malformed_setting_names_itself(tmp_path):
    with pytest.raises(ConfigError, match="SYNC_RATE_LIMIT_SHARE"):
        load_settings({"SYNC_RATE_LIMIT_SHARE": "lots", "INSTANCE_PATH": str(tmp_path)}, use_dotenv=False)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({"DATABASE_URL": "mysql://x", "INSTANCE_PATH": str(tmp_path)}, use_dotenv=False)
    with pytest.raises(ConfigError, match="FRESHDESK_DOMAIN"):
        load_settings({"FRESHDESK_DOMAIN": "https://acme.freshdesk.com/", "INSTANCE_PATH": str(tmp_path)},
                      use_dotenv=False)


def test_vendor_domain_becomes_https_url(tmp_path):
    settings = load_settings({"FRESHDESK_DOMAIN": "acme", "FRESHDESK_API_KEY": "k", "INSTANCE_PATH": str(tmp_path),
                              "FRESHSERVICE_BASE_URL": "", "FRESHSERVICE_DOMAIN": "",
                              "JIRA_BASE_URL": ""}, use_dotenv=False)
    assert settings.vendors.freshdesk_url == "https://acme.freshdesk.com"
    assert settings.vendors.configured_sources() == ("freshdesk",)


def test_mask_url_hides_password():
    assert mask_url("postgresql://u:secret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert "secret" not in mask_url("redis://:secret@cache:6379/0")


def test_migrations_match_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_unreachable_services_give_one_line_errors(app_config):
    app = create_app({**app_config, "DATABASE_URL": "postgresql://tt:hunter2@127.0.0.1:1/none",
                      "REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"})
    with pytest.raises(ServiceUnavailable) as db_error:
        check_database(app)
    with pytest.raises(ServiceUnavailable) as redis_error:
        check_redis(app)
    for error in (db_error.value, redis_error.value):
        text = str(error)
        assert "\n" not in text and "hunter2" not in text and "127.0.0.1:1" in text


def test_tracker_pages_all_rows_once_by_keyset(app, client):
    with app.app_context():
        add_tickets(120)
    seen: list[str] = []
    url = "/api/tickets?view=incidents&limit=50"
    while url:
        body = client.get(url).get_json()
        seen += [item["externalId"] for item in body["items"]]
        url = body["next"]
    assert len(seen) == 120 and len(set(seen)) == 120
    assert seen[0] == "1"  # newest updated first


def test_sort_by_due_ascending_and_filters(app, client):
    with app.app_context():
        add_tickets(30)
        add_tickets(5, start=100, status_category="closed", status_label="Closed")
    body = client.get("/api/tickets?view=incidents&sort=due&dir=asc&status=open&limit=100").get_json()
    keys = [item["externalId"] for item in body["items"]]
    assert keys == [str(n) for n in range(1, 31)]
    body = client.get("/api/tickets?view=incidents&q=number 10").get_json()
    assert {item["externalId"] for item in body["items"]} == {"10", "100", "101", "102", "103", "104"}


def test_bad_cursor_and_sort_are_clear_400s(client):
    response = client.get("/api/tickets?cursor=not-a-cursor")
    assert response.status_code == 400 and "cursor" in response.get_json()["error"]
    response = client.get("/api/tickets?sort=bogus")
    assert response.status_code == 400 and "sort" in response.get_json()["error"]


def test_page_escapes_vendor_text(app, client):
    with app.app_context():
        add_tickets(1, subject='<script>alert(1)</script><img src=x onerror="alert(2)">')
    html = client.get("/incidents").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_htmx_request_gets_only_the_table(app, client):
    with app.app_context():
        add_tickets(3)
    html = client.get("/incidents", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="ticket-table"' in html and "<html" not in html


def test_error_pages_are_friendly(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and "nothing at this address" in response.get_data(as_text=True)
    response = client.get("/api/nowhere")
    assert response.status_code == 404 and response.get_json()["status"] == 404
