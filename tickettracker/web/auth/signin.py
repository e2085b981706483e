"""Signing in and out: throttled password checks, a fresh session, and the audit trail."""

from __future__ import annotations

from flask import session
from flask_login import current_user, login_user, logout_user

from tickettracker.store.extensions import redis_client
from tickettracker.web.auth import audit, sessions
from tickettracker.web.auth.throttle import LOGIN_PER_IP, LOGIN_PER_USERNAME, Throttled, blocked_for, hit, reset
from tickettracker.web.auth.users import Principal, principal_of, touch_login, verify

BAD_CREDENTIALS = "Wrong username or password."


class BadCredentials(Exception):
    """The username or password is wrong, or the account is disabled (the message does not say which)."""


def _wait_for(username: str, ip: str) -> int:
    redis = redis_client()
    return max(blocked_for(redis, LOGIN_PER_USERNAME, username), blocked_for(redis, LOGIN_PER_IP, ip))


def sign_in(username: str, password: str) -> Principal:
    """Check the password and start a new session; raise Throttled or BadCredentials."""
    username, ip = username.strip()[:64], audit.client_ip() or "unknown"
    wait = _wait_for(username, ip)
    if wait:
        audit.record("login.throttled", username or None, detail={"retryAfter": wait})
        raise Throttled(f"Too many failed sign-ins. Try again in {wait} seconds.", wait)
    user = verify(username, password)
    if user is None:
        redis = redis_client()
        hit(redis, LOGIN_PER_USERNAME, username)
        hit(redis, LOGIN_PER_IP, ip)
        audit.record("login.failed", username or None)
        raise BadCredentials(BAD_CREDENTIALS)
    reset(redis_client(), LOGIN_PER_USERNAME, username)
    principal = principal_of(user)
    session.clear()  # a new session id for a new sign-in: nothing from before survives (no fixation)
    login_user(principal)
    sessions.start(principal.id)
    touch_login(principal.id)
    audit.record("login", principal.username)
    return principal


def sign_out() -> None:
    """End the current session here and in Redis, so open event streams close too."""
    if current_user.is_authenticated:
        audit.record("logout", current_user.username)
    sessions.end(session.get(sessions.SID))
    logout_user()
    session.clear()
