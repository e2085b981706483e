"""The one check in front of every route: who is calling, may they, and is the request genuine (CSRF, throttle).

Every endpoint needs a signed-in user unless it is in PUBLIC, so a new route is protected by default. Endpoints in
ADMIN need the admin role, and so does every state-changing request unless its endpoint is in SELF_SERVICE."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, flash, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, TooManyRequests, Unauthorized

from tickettracker.store.extensions import redis_client
from tickettracker.web.auth.throttle import SYNC_TRIGGERS_PER_USER, Limit, Throttled, consume

PUBLIC = frozenset({"static", "pages.health", "auth.login"})
ADMIN = frozenset({
    "sync_api.sync_incidents", "sync_api.sync_jira", "sync_api.sync_all", "sync_api.sync_job_cancel",
    "sync_pages.save_schedule", "sync_pages.put_schedule", "full_resync.confirm", "full_resync.start",
    "auth.users", "auth.create_user", "auth.update_user", "auth.audit_json", "auth.audit_fragment",
    "notify_admin.page", "notify_admin.add_rule", "notify_admin.delete_rule", "notify_admin.send_test",
})
SELF_SERVICE = frozenset({"auth.logout", "auth.create_token", "auth.revoke_token"})
THROTTLED: dict[str, Limit] = {
    "sync_api.sync_incidents": SYNC_TRIGGERS_PER_USER,
    "sync_api.sync_jira": SYNC_TRIGGERS_PER_USER,
    "sync_api.sync_all": SYNC_TRIGGERS_PER_USER,
    "full_resync.start": SYNC_TRIGGERS_PER_USER,
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/"


def needs_admin(endpoint: str | None, method: str) -> bool:
    """Return whether the admin role is required for this endpoint and method."""
    if endpoint in PUBLIC:
        return False
    if endpoint in ADMIN:
        return True
    return method not in SAFE_METHODS and endpoint not in SELF_SERVICE


def wants_json() -> bool:
    """Return whether the caller is a script or an EventSource rather than a person with a browser."""
    return (request.path.startswith(API_PREFIX) or request.path == "/events"
            or "Authorization" in request.headers or request.accept_mimetypes.best == "application/json")


def _next_target() -> str:
    """Return the page to come back to after signing in (for htmx: the page the request came from)."""
    current = request.headers.get("HX-Current-URL")
    if current:
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.full_path.rstrip("?") if request.method == "GET" else request.path


def _sign_in_first() -> Response:
    if "_user_id" in session:
        session.clear()
        flash("Your session has ended. Please sign in again.", "info")
    if wants_json():
        raise Unauthorized("Sign in first, or send an API token as 'Authorization: Bearer <token>'.",
                           www_authenticate=WWWAuthenticate("Bearer", {"realm": "Ticket Tracker"}))
    login = url_for("auth.login", next=_next_target())
    if request.headers.get("HX-Request"):
        return Response(status=401, headers={"HX-Redirect": login})
    return redirect(login, 302 if request.method in SAFE_METHODS else 303)


def _throttle(limit: Limit) -> None:
    try:
        consume(redis_client(), limit, current_user.username,
                f"Too many sync requests; at most {limit.count} per {limit.window} seconds.")
    except Throttled as exc:
        raise TooManyRequests(str(exc), retry_after=exc.retry_after) from None


def check_request() -> Response | None:
    """Let the request through, or answer it: sign in first (redirect or 401), 400 CSRF, 403 role, 429 throttle."""
    endpoint = request.endpoint
    if endpoint in PUBLIC:
        protect_csrf()
        return None
    if not current_user.is_authenticated:
        return _sign_in_first()
    if endpoint is None:
        return None  # no such route (404) or method (405): the router answers
    if not current_user.via_token:
        protect_csrf()
    if needs_admin(endpoint, request.method) and not current_user.is_admin:
        raise Forbidden()
    limit = THROTTLED.get(endpoint or "")
    if limit is not None:
        _throttle(limit)
    return None


def protect_csrf() -> None:
    """Check the CSRF token of a state-changing request (form field or X-CSRFToken header); 400 when missing."""
    current_app.extensions["csrf"].protect()
