"""Signing in and out: password checks behind the sign-in throttle, a fresh session, and the audit trail.

The throttle (web/auth/policy.py, Flask-Limiter) counts every attempt before the password is checked, keyed on the
username together with the client's address, in growing windows: a victim signing in from their own address is not
locked out by someone guessing from elsewhere, and a guesser waits longer after each round."""

from __future__ import annotations

import time

from flask import make_response, render_template, request, session
from flask_limiter import RequestLimit
from flask_login import current_user, login_user, logout_user
from limits import parse
from redis.exceptions import RedisError

from tickettracker.store.extensions import redis_client
from tickettracker.web.auth import audit, policy, sessions
from tickettracker.web.auth.users import Principal, principal_of, touch_login, verify

BAD_CREDENTIALS = "Wrong username or password."
# Per username + client address, counted before the password check; each round locks out for longer.
ATTEMPTS_PER_USER_AND_ADDRESS = "5 per 5 minutes; 10 per hour; 20 per day"
# Per client address, failed sign-ins for any usernames (password spraying); counted after each failure.
FAILURES_PER_ADDRESS = parse("20 per 15 minutes")
ATTEMPT_KEY = "login-attempt"


class BadCredentials(Exception):
    """The username or password is wrong, or the account is disabled (the message does not say which)."""


class AddressThrottled(Exception):
    """Too many failed sign-ins from this address, for any usernames."""

    def __init__(self, retry_after: int) -> None:
        """Keep the wait."""
        super().__init__(f"Too many failed sign-ins. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def _username() -> str:
    value = request.form.get("username", "")
    return value.strip()[:64] if isinstance(value, str) else ""


def attempt_key() -> str:
    """Key the sign-in throttle on the username and the client's address."""
    return f"{ATTEMPT_KEY}:{_username().lower()}|{audit.client_ip() or 'unknown'}"


def _address_key() -> str:
    return f"login-address:{audit.client_ip() or 'unknown'}"


def _check_address() -> None:
    """Refuse the attempt when this address has had too many failures (the same Flask-Limiter moving window)."""
    limiter = policy.app_limiter().limiter
    if not limiter.test(FAILURES_PER_ADDRESS, _address_key()):
        reset_at = limiter.get_window_stats(FAILURES_PER_ADDRESS, _address_key()).reset_time
        raise AddressThrottled(max(1, int(reset_at - time.time()) + 1))


def _count_failure() -> None:
    policy.app_limiter().limiter.hit(FAILURES_PER_ADDRESS, _address_key())


def throttled_page(limit: RequestLimit) -> object:
    """Answer a throttled sign-in: the form with the wait, 429 and Retry-After; audited once per window."""
    wait = policy.retry_after(limit)
    username = _username()
    _audit_once(limit, username, wait)
    page = render_template("pages/login.html", title="Sign in", username=username, next=request.form.get("next"),
                           error=f"Too many failed sign-ins. Try again in {wait} seconds.")
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(wait)
    return response


def _audit_once(limit: RequestLimit, username: str, wait: int) -> None:
    """Record a throttled sign-in at most once per lock-out window and key."""
    try:
        first = redis_client().set(f"tickettracker:audited:{limit.key}", 1, nx=True, ex=wait)
    except RedisError:
        first = True
    if first:
        audit.record("login.throttled", username or None, detail={"retryAfter": wait})


def _forget_attempts() -> None:
    """After a successful sign-in, the username + address attempts start again from zero."""
    limiter = policy.app_limiter()
    for limit in limiter.current_limits:
        if ATTEMPT_KEY in limit.key:
            limiter.limiter.clear(limit.limit, *limit.request_args)


def sign_in(username: str, password: str) -> Principal:
    """Check the password and start a new session; raise AddressThrottled or BadCredentials."""
    username = username.strip()[:64]
    _check_address()
    user = verify(username, password)
    if user is None:
        _count_failure()
        audit.record("login.failed", username or None)
        raise BadCredentials(BAD_CREDENTIALS)
    _forget_attempts()
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
