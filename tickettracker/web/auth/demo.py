"""The demo admin of the run command's demo mode, and the first-run hint when nobody can sign in yet."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from tickettracker.store.extensions import db
from tickettracker.store.models import User
from tickettracker.web.auth.users import create_user, find_user, set_active, set_password

DEMO_ADMIN = "demo-admin"


def demo_admin_lines() -> list[str]:
    """Create the demo admin once and give it a fresh random password on every start; return lines to print.

    Nothing secret is kept: only the hash is stored, and the password printed now replaces the last one."""
    password = secrets.token_urlsafe(15)
    user = find_user(DEMO_ADMIN)
    if user is None:
        create_user(DEMO_ADMIN, password, "admin")
        made = "created"
    else:
        set_password(DEMO_ADMIN, password)
        set_active(DEMO_ADMIN, True)
        made = "new password for this start"
    return [f"demo sign-in ({made}): username {DEMO_ADMIN}  password {password}"]


def first_run_lines() -> list[str]:
    """Return a hint when there is no active admin yet."""
    admins = db.session.scalar(select(func.count()).select_from(User)
                               .where(User.role == "admin", User.is_active.is_(True)))
    if admins:
        return []
    return ["no admin can sign in yet: create one with `flask --app wsgi:app users create NAME --role admin`"]
