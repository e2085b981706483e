"""Users: create, change role, enable or disable, and check a password (scrypt hashes via werkzeug).

Each web process keeps the signed-in users it has loaded (as Principals) while the users generation in Redis stays
and for at most PRINCIPAL_MAX_AGE seconds: any commit that adds, changes or removes a user row through the ORM bumps
that generation, so a new role or a disabled account applies to the next request in every process. (Disabling a user
or changing a password also ends their sessions in Redis, which every request checks.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from itertools import chain
from typing import Any

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from tickettracker.core.config import DEFAULT_SCRYPT_COST, get_settings
from tickettracker.store import generations
from tickettracker.store.extensions import db
from tickettracker.store.models import User

ROLES = ("viewer", "admin")
PRINCIPAL_MAX_AGE = 5.0  # seconds a web process reuses a loaded user (also bounds a change made outside the ORM)
PRINCIPALS_KEPT = 10_000
MIN_PASSWORD_LENGTH = 12


def _method(cost: int | None = None) -> str:
    """The werkzeug hash method for new passwords: scrypt at PASSWORD_SCRYPT_COST (default: werkzeug's 32768)."""
    return f"scrypt:{cost or get_settings().password_scrypt_cost}:8:1"


@cache
def _dummy_hash(method: str) -> str:
    """A hash checked when the username is unknown, so a miss costs the same time as a wrong password."""
    return generate_password_hash("not-a-real-password-only-for-timing", method=method)


_dummy_hash(_method(DEFAULT_SCRYPT_COST))  # made once at start-up, not on the first miss


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user as Flask-Login sees it: a plain snapshot, never an ORM object."""

    id: int
    username: str
    role: str
    active: bool = True
    via_token: bool = False
    scopes: frozenset[str] = frozenset()  # a token's scopes (web/auth/tokens.py); empty for a browser session

    @property
    def is_admin(self) -> bool:
        """Return whether this user may trigger, cancel and schedule syncs and manage users."""
        return self.role == "admin"

    @property
    def is_authenticated(self) -> bool:
        """Return True: a Principal exists only for a signed-in user."""
        return True

    @property
    def is_active(self) -> bool:
        """Return whether the account is enabled."""
        return self.active

    @property
    def is_anonymous(self) -> bool:
        """Return False: anonymous visitors are Flask-Login's AnonymousUserMixin."""
        return False

    def get_id(self) -> str:
        """Return the id Flask-Login keeps in the session."""
        return str(self.id)


def principal_of(user: User, *, via_token: bool = False, scopes: frozenset[str] = frozenset()) -> Principal:
    """Return the snapshot of a user row."""
    return Principal(user.id, user.username, user.role, user.is_active, via_token, scopes)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def check_password_strength(password: str) -> None:
    """Refuse passwords shorter than MIN_PASSWORD_LENGTH."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")


def find_user(username: str) -> User | None:
    """Return the user with this name (case-insensitive), or None."""
    return db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def create_user(username: str, password: str, role: str = "viewer") -> User:
    """Create a user with a hashed password; refuse duplicates, unknown roles and short passwords."""
    name = username.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise UserError("the username must be 1-64 characters without spaces")
    _check_role(role)
    check_password_strength(password)
    if find_user(name) is not None:
        raise UserError(f"a user named {name!r} already exists")
    user = User(username=name, password_hash=generate_password_hash(password, method=_method()), role=role,
                is_active=True)
    db.session.add(user)
    db.session.commit()
    return user


def _existing(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise UserError(f"there is no user named {username!r}")
    return user


def set_role(username: str, role: str) -> User:
    """Change a user's role."""
    user = _existing(username)
    user.role = _check_role(role)
    db.session.commit()
    return user


def set_active(username: str, active: bool) -> User:
    """Enable or disable a user (a disabled user cannot sign in and their sessions and tokens stop working)."""
    user = _existing(username)
    user.is_active = active
    db.session.commit()
    return user


def set_password(username: str, password: str) -> User:
    """Replace a user's password (web/auth/accounts.change_password also ends tokens and other sessions)."""
    user = _existing(username)
    check_password_strength(password)
    user.password_hash = generate_password_hash(password, method=_method())
    db.session.commit()
    return user


def password_matches(user_id: int, password: str) -> bool:
    """Return whether the password is this (active) user's (asked again before sensitive changes)."""
    user = db.session.get(User, user_id)
    return user is not None and user.is_active and check_password_hash(user.password_hash, password)


def verify(username: str, password: str) -> User | None:
    """Return the active user whose password matches, or None (same cost whether or not the name exists)."""
    user = find_user(username) if username else None
    if user is None:
        check_password_hash(_dummy_hash(_method()), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.is_active:
        return None
    return user


def load_principal(user_id: str | int, generation: int | None = None) -> Principal | None:
    """Return the active user with this id as a Principal, or None. With the users generation this request read,
    a Principal this process loaded under the same generation less than PRINCIPAL_MAX_AGE seconds ago is reused;
    while one caller reloads an aged one, the others keep using it (no burst of identical queries)."""
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    if generation is None:
        return _load(key)
    known: dict[int, tuple[int, float, Principal]] = current_app.extensions.setdefault("tt_principals", {})
    found = known.get(key)
    if found is not None and found[0] == generation:
        if time.monotonic() - found[1] < PRINCIPAL_MAX_AGE:
            return found[2]
        lock = current_app.extensions.setdefault("tt_principal_locks", {}).setdefault(key, threading.Lock())
        if not lock.acquire(blocking=False):
            return found[2]  # another request is reloading this user
        try:
            return _remember(known, key, generation)
        finally:
            lock.release()
    return _remember(known, key, generation)


def _load(user_id: int) -> Principal | None:
    user = db.session.get(User, user_id)
    return principal_of(user) if user is not None and user.is_active else None


def _remember(known: dict[int, tuple[int, float, Principal]], user_id: int, generation: int) -> Principal | None:
    principal = _load(user_id)
    if principal is None:
        known.pop(user_id, None)
        return None
    if len(known) >= PRINCIPALS_KEPT:
        known.clear()
    known[user_id] = (generation, time.monotonic(), principal)
    return principal


@event.listens_for(Session, "after_flush")
def _note_user_changes(session: Session, _context: Any) -> None:
    if any(isinstance(item, User) for item in chain(session.new, session.dirty, session.deleted)):
        session.info["tt_users_changed"] = True


@event.listens_for(Session, "after_commit")
def _bump_users_generation(session: Session) -> None:
    if session.info.pop("tt_users_changed", False):
        generations.bump(generations.USERS)


@event.listens_for(Session, "after_rollback")
def _forget_user_changes(session: Session) -> None:
    session.info.pop("tt_users_changed", None)


def list_users() -> list[User]:
    """Return every user, by name."""
    return list(db.session.scalars(select(User).order_by(User.username)))


def touch_login(user_id: int) -> None:
    """Record the time of a successful sign-in."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.last_login_at = func.now()
        db.session.commit()
