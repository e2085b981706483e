"""The one check in front of every route: who is calling, and is the request genuine (CSRF)?

Every view needs a signed-in user unless it is marked @public; what else a view needs (admin role, throttle, audit)
it declares itself with the decorators of web/auth/policy.py. A state-changing request to a view that declares
neither @admin_required nor @self_service is refused here, so a new route is protected by default."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from tickettracker.core.vocabulary import SAFE_METHODS
from tickettracker.store.health import ServiceUnavailable
from tickettracker.web.auth.policy import needs_admin, policy_of, required_scope

API_PREFIX = "/api/"


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


def check_request() -> Response | None:
    """Let the request through, or answer it: sign in first (redirect or 401), 400 CSRF, 403 role."""
    view = current_app.view_functions.get(request.endpoint or "")
    if policy_of(view).public:
        protect_csrf()
        return None
    if not current_user.is_authenticated:
        if g.get("tt_session_unchecked"):
            raise ServiceUnavailable("sessions cannot be checked while Redis is unreachable")
        return _sign_in_first()
    if view is None:
        return None  # no such route (404) or method (405): the router answers
    if not current_user.via_token:
        protect_csrf()
    if needs_admin(view, request.method) and not current_user.is_admin:
        raise Forbidden()
    if current_user.via_token:
        scope = required_scope(view, request.method)
        if scope not in current_user.scopes:
            raise Forbidden(f"This API token lacks the '{scope}' scope; create one with it on the account page.")
    return None


def protect_csrf() -> None:
    """Check the CSRF token of a state-changing request (form field or X-CSRFToken header); 400 when missing."""
    current_app.extensions["csrf"].protect()
