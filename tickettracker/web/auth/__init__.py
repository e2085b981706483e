"""Sign-in, roles, API tokens, throttling and the audit trail, installed on the app by init_auth."""

from __future__ import annotations

from flask import Flask, Request, g, request
from flask_login import AnonymousUserMixin, LoginManager, current_user

from tickettracker.core.vocabulary import SAFE_METHODS
from tickettracker.store import generations
from tickettracker.web.auth import audit, gate, policy, sessions
from tickettracker.web.auth.tokens import principal_for_token
from tickettracker.web.auth.users import Principal, load_principal

STREAM_PATH = "/events"


class Anonymous(AnonymousUserMixin):
    """A visitor who has not signed in."""

    username = None
    role = None
    is_admin = False
    via_token = False


def _load_from_session(user_id: str) -> Principal | None:
    """Return the session's user while the sign-in is live and the account enabled.

    While Redis cannot say whether the session was ended, pages still read (they come from PostgreSQL), but
    writes and the event stream are refused with 503: a signed-out or stolen cookie must not act meanwhile."""
    state = sessions.current_state()
    if state is False:
        return None
    if state is None and (request.method not in SAFE_METHODS or request.path == STREAM_PATH):
        g.tt_session_unchecked = True  # the gate answers 503 (and keeps the cookie: the session may be fine)
        return None
    return load_principal(user_id, generations.for_request_known(generations.USERS))


def _load_from_bearer(req: Request) -> Principal | None:
    """Return the user of an `Authorization: Bearer` API token on a JSON API request."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not req.path.startswith(gate.API_PREFIX):
        return None
    return principal_for_token(token.strip())


def init_auth(app: Flask) -> None:
    """Install the login manager, the request gate, the throttles and the template helpers."""
    app.session_interface = sessions.SignedCookieSessions()
    manager = LoginManager()
    manager.init_app(app)
    manager.anonymous_user = Anonymous
    manager.session_protection = "basic"
    manager.user_loader(_load_from_session)
    manager.request_loader(_load_from_bearer)
    app.before_request(gate.check_request)
    policy.init_limiter(app)
    if "static" in app.view_functions:
        app.view_functions["static"] = policy.public_view(app.view_functions["static"])
    app.jinja_env.globals["recent_audit_events"] = audit.recent
    app.context_processor(admin_controls_context)


def admin_controls_context() -> dict[str, bool]:
    """Tell templates whether to render admin controls (Sync, Cancel, schedule forms, user admin) at all.

    A viewer's HTML never contains them; the gate refuses the requests anyway. The event stream passes the
    value explicitly, as it renders once per role, not per request."""
    return {"admin_controls": bool(getattr(current_user, "is_admin", False))}
