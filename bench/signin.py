"""Users for the benchmark: a signed-in browser session for pages and streams, API tokens of admins for triggers."""

from __future__ import annotations

import math
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from .harness import BenchError
from .load import HttpClient

TRIGGERS_PER_MINUTE = 25  # below the app's per-user limit on sync triggers (30 a minute)


def create_user(app: Any, username: str, role: str) -> str:
    """Create a user in the scratch database and return its random password."""
    from tickettracker.web.auth.users import create_user as create

    password = secrets.token_urlsafe(18)
    with app.app_context():
        create(username, password, role)
    return password


def admin_tokens(app: Any, triggers: int) -> list[str]:
    """Create one admin to start syncs plus enough that `triggers` POSTs a minute stay under the per-user limit."""
    from tickettracker.web.auth.tokens import create_token_for

    tokens = []
    for n in range(1 + math.ceil(triggers / TRIGGERS_PER_MINUTE)):
        name = f"bench-admin-{n}"
        create_user(app, name, "admin")
        with app.app_context():
            tokens.append(create_token_for(name, "bench", scopes=("sync",))[1])
    return tokens


def _cookie(client: HttpClient, jar: dict[str, str]) -> str:
    """Fold the last response's Set-Cookie headers into the jar; return the Cookie header value."""
    for line in client.set_cookies:
        name, _, value = line.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def session_cookie(base_url: str, username: str, password: str) -> str:
    """Sign in through the login form (CSRF token included) and return the session's Cookie header value."""
    client, jar = HttpClient(base_url), {}
    try:
        status, page = client.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or token is None:
            raise BenchError(f"GET /login answered {status} without a CSRF token")
        form = urlencode({"username": username, "password": password, "csrf_token": token.group(1).decode()})
        headers = {"Cookie": _cookie(client, jar), "Content-Type": "application/x-www-form-urlencoded"}
        status, _ = client.request("POST", "/login", headers, form.encode())
        if status != 303:
            raise BenchError(f"signing in answered {status}")
        # Follow the redirect as a browser does: the first page stores the session's CSRF token in the cookie,
        # which the browser then sends with every request.
        status, _ = client.request("GET", "/", {"Cookie": _cookie(client, jar)})
        if status != 200:
            raise BenchError(f"the first page after signing in answered {status}")
        return _cookie(client, jar)
    finally:
        client.close()
