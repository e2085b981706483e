"""Route policy, declared on the views themselves: who may call them, how often, and what the audit trail keeps.

- `@public`: no sign-in needed (the sign-in page, health, static files). Every other view needs a signed-in user.
- `@admin_required`: the admin role is needed (403 otherwise).
- `@self_service`: a state-changing view any signed-in user may call for themselves (sign out, their own tokens).
- `@token_scope(scope)`: the API token scope a script needs for the view (default: `admin` for admin views, else
  `read`); see web/auth/tokens.py.
  A state-changing request to a view marked neither admin_required nor self_service is refused (403), so a new
  route is protected by default.
- `@throttled(limits, key=...)`: Flask-Limiter limits (Redis storage, moving window), counted before the view runs.
- `@audited(action)`: after the view answers below 400 for a signed-in user, one audit event is written; the view
  adds its target and detail with `note()`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, make_response, request
from flask_limiter import Limiter, RequestLimit
from flask_login import current_user
from werkzeug.exceptions import Forbidden

from tickettracker.core.vocabulary import SAFE_METHODS
from tickettracker.web.auth import audit

F = TypeVar("F", bound=Callable[..., Any])
POLICY_ATTRIBUTE = "tt_policy"


@dataclass(frozen=True)
class Policy:
    """What a view declares about itself."""

    public: bool = False
    admin: bool = False
    self_service: bool = False
    audited: str | None = None
    token_scope: str | None = None
    throttled: bool = False


def policy_of(view: Callable[..., Any] | None) -> Policy:
    """Return the policy a view declares (an undecorated view: signed-in users, reads only)."""
    return getattr(view, POLICY_ATTRIBUTE, Policy())


def _mark(view: F, **changes: Any) -> F:
    setattr(view, POLICY_ATTRIBUTE, replace(policy_of(view), **changes))
    return view


def public(view: F) -> F:
    """Let anyone call the view, signed in or not."""
    return _mark(view, public=True)


def public_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """Return a public copy of a view that cannot carry attributes itself (Flask's bound static-file view)."""
    @wraps(view)
    def call(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return public(call)


def self_service(view: F) -> F:
    """Let any signed-in user call this state-changing view (it only touches their own things)."""
    return _mark(view, self_service=True)


def admin_required(view: F) -> F:
    """Refuse the view (403) to anyone but an admin."""
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not getattr(current_user, "is_admin", False):
            raise Forbidden()
        return view(*args, **kwargs)

    return _mark(guarded, admin=True)


def token_scope(scope: str) -> Callable[[F], F]:
    """Name the API token scope this view needs (e.g. "sync" for starting syncs)."""
    def decorate(view: F) -> F:
        return _mark(view, token_scope=scope)

    return decorate


def required_scope(view: Callable[..., Any] | None, method: str) -> str:
    """Return the token scope a script needs to call this view with this method."""
    policy = policy_of(view)
    if policy.token_scope:
        return policy.token_scope
    return "admin" if policy.admin or method not in SAFE_METHODS else "read"


def needs_admin(view: Callable[..., Any] | None, method: str) -> bool:
    """Return whether calling this view with this method needs the admin role."""
    policy = policy_of(view)
    if policy.public:
        return False
    return policy.admin or (method not in SAFE_METHODS and not policy.self_service)


def note(target: str | None = None, **detail: Any) -> None:
    """Tell the audit trail what this request did (read by @audited once the view has answered)."""
    g.tt_audit = (target, {k: v for k, v in detail.items() if v is not None})


def audited(action: str) -> Callable[[F], F]:
    """Record `action` in the audit trail when the view answers below 400 for a signed-in user."""
    def decorate(view: F) -> F:
        @wraps(view)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            response = make_response(view(*args, **kwargs))
            if response.status_code < 400 and getattr(current_user, "is_authenticated", False):
                target, detail = g.pop("tt_audit", (None, {}))
                if target is None and kwargs:
                    target = str(next(iter(kwargs.values())))
                audit.record(action, current_user.username, target, detail)
            return response

        return _mark(recorded, audited=action)

    return decorate


# --- Throttles: Flask-Limiter with Redis storage and a moving window ---------------------------------------------


@dataclass(frozen=True)
class Throttle:
    """One throttled view: its limits and how to key them."""

    view: Callable[..., Any]
    limits: str
    key: Callable[[], str]
    methods: tuple[str, ...] | None
    on_breach: Callable[[RequestLimit], Response | None] | None
    deduct_when: Callable[[Response], bool] | None


_THROTTLES: dict[str, Throttle] = {}
LIMITER = "tt_limiter"
LIMITED_VIEWS = "tt_limited_views"


def retry_after(limit: RequestLimit) -> int:
    """Return the seconds until the limit lets the next request through (at least 1)."""
    return max(1, min(limit.limit.get_expiry(), math.ceil(limit.reset_at - time.time())))


def json_breach(message: str) -> Callable[[RequestLimit], Response]:
    """Return an on_breach callback answering 429 with the message (JSON or page) and Retry-After."""
    def answer(limit: RequestLimit) -> Response:
        response = jsonify(error=message, status=429)
        response.status_code = 429
        response.headers["Retry-After"] = str(retry_after(limit))
        return response

    return answer


def throttled(limits: str, *, key: Callable[[], str], message: str | None = None,
              methods: tuple[str, ...] | None = None,
              on_breach: Callable[[RequestLimit], Response | None] | None = None,
              deduct_when: Callable[[Response], bool] | None = None) -> Callable[[F], F]:
    """Limit how often the view runs per key (e.g. "30 per minute"); beyond it answer 429 with Retry-After.

    Flask-Limiter counts the hit atomically in Redis (moving window) before the view runs, unless deduct_when
    defers it to the answer. Each app gets its own limiter (its own Redis), built by init_limiter."""
    def decorate(view: F) -> F:
        name = f"{view.__module__}.{view.__qualname__}:{len(_THROTTLES)}"
        _THROTTLES[name] = Throttle(view, limits, key, methods,
                                    on_breach or (json_breach(message) if message else None), deduct_when)

        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            return current_app.extensions[LIMITED_VIEWS][name](*args, **kwargs)

        return _mark(limited, throttled=True)  # type: ignore[return-value]

    return decorate


def app_limiter(app: Flask | None = None) -> Limiter:
    """Return the app's Flask-Limiter."""
    return (app or current_app).extensions[LIMITER]


def signed_in_user_key() -> str:
    """Throttle per signed-in user."""
    return f"user:{getattr(current_user, 'id', 'anonymous')}"


def init_limiter(app: Flask) -> None:
    """Give the app its own Flask-Limiter, storing moving windows in the app's Redis, and bind the throttled views."""
    limiter = Limiter(key_func=lambda: request.remote_addr or "unknown", strategy="moving-window",
                      storage_uri=app.config["REDIS_URL"], key_prefix="tickettracker", swallow_errors=False,
                      headers_enabled=False)
    limiter.init_app(app)
    # There are no default or application-wide limits, only the views' own: a request to any other view has
    # nothing to count, so the limiter's check in front of every request is skipped for it.
    limiter.request_filter(lambda: not policy_of(current_app.view_functions.get(request.endpoint or "")).throttled)
    app.extensions[LIMITER] = limiter
    app.extensions[LIMITED_VIEWS] = {
        name: limiter.limit(t.limits, key_func=t.key, methods=[m.lower() for m in t.methods] if t.methods else None,
                            on_breach=t.on_breach, deduct_when=t.deduct_when)(t.view)
        for name, t in _THROTTLES.items()}
