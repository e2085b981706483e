"""A live stack for end-to-end tests: the vendor simulator, real RQ worker processes and a real web server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

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


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll check() until it returns something truthy; return it or fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Processes:
    """Child processes of a test, each in its own process group, all stopped at teardown."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.config = dict(env)
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        """Start a process with output to log_dir/name.log."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        child = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.children[name] = child
        return child

    def start_worker(self, name: str = "worker", processes: int = 2) -> subprocess.Popen:
        """Start `python worker.py` with the given number of RQ workers."""
        return self.start(name, [sys.executable, "worker.py", "--processes", str(processes)])

    def start_web(self, name: str = "web", gunicorn: bool = False) -> str:
        """Start the web app on a free port and return its base URL once /health answers."""
        port = free_port()
        if gunicorn:
            args = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
            self.env.update({"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1"})
        else:
            args = [sys.executable, "-m", "flask", "--app", "wsgi:app", "run", "--port", str(port),
                    "--with-threads", "--no-reload"]
        self.start(name, args)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url + "/health"), timeout=30, what=f"{name} at {url}")
        return url

    def admin_session(self, base: str) -> requests.Session:
        """Return a requests.Session signed in as the admin user (created on first use) on a live server."""
        from tickettracker import create_app
        from tickettracker.store.extensions import db

        app = create_app(self.config)
        ensure_user(app, *ADMIN, "admin")
        with app.app_context():
            db.engine.dispose()
        return signed_in_session(base, *ADMIN)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send a signal to a child and all its descendants (RQ job processes have their own group)."""
        child = self.children.pop(name)
        for proc in _tree(child.pid):
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        child.wait(timeout=30)

    def log(self, name: str) -> str:
        """Return what a child has printed so far."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """Stop every child: SIGTERM twice, then SIGKILL to whatever of its process tree is left."""
        for name in list(self.children):
            child = self.children.pop(name)
            tree = _tree(child.pid)
            for sig in (signal.SIGTERM, signal.SIGTERM):
                try:
                    os.killpg(child.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for proc in tree:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            child.wait(timeout=10)


@dataclass
class LiveStack:
    """A running stack of a browser test module: the web's base URL, the simulator, the processes, the test's app
    and the browser."""

    base: str
    sim: object
    procs: Processes
    app: object
    browser: object


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback test server
            return response.status == 200
    except OSError:
        return False
