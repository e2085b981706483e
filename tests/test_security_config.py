"""The Secure cookie flag is turned off only for the demo on a loopback address; vendor URLs carry no userinfo
and use https outside demo mode."""

from __future__ import annotations

import argparse

import pytest

from tickettracker.core.config import ConfigError, load_settings
from tickettracker.runtime import launcher

BASE = {"SECRET_KEY": "x" * 32, "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db", "REDIS_URL": "redis://127.0.0.1/0"}


def _prepared(monkeypatch, host: str, *, demo: bool, **extra: str) -> dict[str, str]:
    for name in ("SESSION_COOKIE_SECURE", "DEMO_MODE", "FRESHDESK_BASE_URL", "FRESHDESK_API_KEY",
                 "FRESHSERVICE_BASE_URL", "FRESHSERVICE_API_KEY", "FRESHSERVICE_DOMAIN", "FRESHDESK_DOMAIN",
                 "JIRA_BASE_URL", "JIRA_API_TOKEN", "HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE, **extra}.items():
        monkeypatch.setenv(name, value)
    if not demo:
        monkeypatch.setenv("FRESHDESK_BASE_URL", "https://acme.freshdesk.com")
        monkeypatch.setenv("FRESHDESK_API_KEY", "k" * 20)
    args = argparse.Namespace(host=host, port=5999, no_demo=False)
    env, owned = launcher._prepare_environment(args)
    for thing in owned:
        thing.stop()
    return env


def test_the_demo_on_loopback_turns_the_secure_flag_off(monkeypatch):
    env = _prepared(monkeypatch, "127.0.0.1", demo=True)
    assert env["DEMO_MODE"] == "true" and env["SESSION_COOKIE_SECURE"] == "false"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "tracker.example.com"])
def test_the_demo_on_a_public_address_keeps_the_secure_flag(monkeypatch, host):
    env = _prepared(monkeypatch, host, demo=True)
    assert env.get("SESSION_COOKIE_SECURE") != "false"


def test_outside_demo_mode_the_secure_flag_stays_on_even_on_loopback(monkeypatch):
    env = _prepared(monkeypatch, "127.0.0.1", demo=False)
    assert env.get("DEMO_MODE") != "true" and env.get("SESSION_COOKIE_SECURE") != "false"
    assert load_settings(env, use_dotenv=False).session_cookie_secure is True


@pytest.mark.parametrize("name", ["FRESHSERVICE_BASE_URL", "FRESHDESK_BASE_URL", "JIRA_BASE_URL"])
@pytest.mark.parametrize("url", ["https://bot:s3cret@acme.example.com", "https://bot@acme.example.com",
                                 "http://u:p@127.0.0.1:9000"])
def test_vendor_urls_with_userinfo_are_refused(name, url):
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: url}, use_dotenv=False)
    assert name in str(caught.value) and "s3cret" not in str(caught.value)


@pytest.mark.parametrize("name", ["FRESHSERVICE_BASE_URL", "FRESHDESK_BASE_URL", "JIRA_BASE_URL"])
def test_vendor_urls_need_https_outside_demo_mode(name):
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, name: "http://acme.example.com"}, use_dotenv=False)
    assert "https://" in str(caught.value)
    assert load_settings({**BASE, name: "http://acme.example.com", "DEMO_MODE": "true"}, use_dotenv=False)
    for local in ("http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123"):
        assert load_settings({**BASE, name: local}, use_dotenv=False)
    assert load_settings({**BASE, name: "https://acme.example.com"}, use_dotenv=False)


def test_password_hashes_use_werkzeugs_scrypt_cost_unless_lowered(app):
    from werkzeug.security import check_password_hash

    from tickettracker.store.extensions import db
    from tickettracker.web.auth.users import create_user, verify

    default = load_settings({**BASE, "PASSWORD_SCRYPT_COST": None}, use_dotenv=False)
    assert default.password_scrypt_cost == 32768  # the production default: werkzeug's own
    assert load_settings({**BASE, "PASSWORD_SCRYPT_COST": "2048"}, use_dotenv=False).password_scrypt_cost == 2048
    for bad in ("1000", "512", "lots"):
        with pytest.raises(ConfigError, match="PASSWORD_SCRYPT_COST"):
            load_settings({**BASE, "PASSWORD_SCRYPT_COST": bad}, use_dotenv=False)
    with app.app_context():
        stored = create_user("dora", "a-long-password-1", "viewer").password_hash
        assert stored.startswith("scrypt:1024:8:1$")  # the test apps' cost (tests/conftest.py)
        assert check_password_hash(stored, "a-long-password-1") and verify("dora", "a-long-password-1")
        db.session.remove()
