"""A live stack for end-to-end tests: the vendor simulator, real RQ worker processes and a real web server."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import requests

from livestack.processes import Processes as StackProcesses
from livestack.processes import answers, free_port, wait_until  # noqa: F401 - the tests import them from here

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TEST_PASSWORD = "correct-horse-battery-staple"
ADMIN = ("admin", TEST_PASSWORD)
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token_from(html: str) -> str:
    """Return the CSRF token of a rendered page (its csrf-token meta tag)."""
    found = _CSRF.search(html)
    assert found, "the page has no csrf-token meta tag"
    return found.group(1)


def ensure_user(app, username: str, password: str, role: str) -> None:
    """Create a user unless it exists (a cheap PBKDF2 hash: tests sign in often; the app itself uses scrypt)."""
    from werkzeug.security import generate_password_hash

    from tickettracker.store.extensions import db
    from tickettracker.store.models import User
    from tickettracker.web.auth.users import find_user

    with app.app_context():
        if find_user(username) is None:
            db.session.add(User(username=username, role=role, is_active=True,
                                password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000")))
            db.session.commit()
        db.session.remove()


def signed_in_client(app, username: str, role: str = "admin"):
    """Return a Flask test client signed in as that user (created if missing), sending its CSRF token always."""
    ensure_user(app, username, TEST_PASSWORD, role)
    client = app.test_client()
    form = {"username": username, "password": TEST_PASSWORD,
            "csrf_token": csrf_token_from(client.get("/login").get_data(as_text=True))}
    assert client.post("/login", data=form).status_code == 303, f"could not sign in as {username}"
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token_from(client.get("/account").get_data(as_text=True))
    return client


def signed_in_session(base: str, username: str, password: str) -> requests.Session:
    """Return a requests.Session signed in to a live server, sending the CSRF token on every request."""
    session = requests.Session()
    token = csrf_token_from(session.get(f"{base}/login", timeout=10).text)
    answer = session.post(f"{base}/login", data={"username": username, "password": password, "csrf_token": token},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303, f"sign-in as {username} failed: {answer.status_code}"
    session.headers["X-CSRFToken"] = csrf_token_from(session.get(f"{base}/account", timeout=10).text)
    return session


def login(page, base_url: str, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    """Sign a Playwright page in through the sign-in form."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/login" not in page.url, f"sign-in as {username} failed"


def launch_chromium(playwright):
    """Launch the machine's headless Chromium through Playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class Processes(StackProcesses):
    """The live stack's child processes (livestack.processes), plus signing in to a web server they run."""

    def admin_session(self, base: str) -> requests.Session:
        """Return a requests.Session signed in as the admin user (created on first use) on a live server."""
        from tickettracker import create_app
        from tickettracker.store.extensions import db

        app = create_app(self.config)
        ensure_user(app, *ADMIN, "admin")
        with app.app_context():
            db.engine.dispose()
        return signed_in_session(base, *ADMIN)


@dataclass
class LiveStack:
    """A running stack of a browser test module: the web's base URL, the simulator, the processes, the test's app
    and the browser."""

    base: str
    sim: object
    procs: Processes
    app: object
    browser: object
