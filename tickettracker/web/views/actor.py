"""Who is making the current request (for run records and the audit trail)."""

from __future__ import annotations

from flask import current_app, has_request_context


def current_actor() -> str | None:
    """Return the signed-in user's name, or None outside a request or when nobody is signed in."""
    if not has_request_context() or not hasattr(current_app, "login_manager"):
        return None
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        return current_user.username
    return None
