"""Per-user API tokens for scripts: shown once, stored as a SHA-256 hash, scoped, expiring, revocable.

Scopes: `read` (every token: the read API), `sync` (start, cancel and schedule syncs), `admin` (users and the audit
trail). A scope never lifts the owner's role: a viewer's token with `sync` still may not start a sync."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from tickettracker.store.extensions import db
from tickettracker.store.models import ApiToken, User
from tickettracker.web.auth.users import Principal, UserError, find_user, principal_of

PREFIX = "tt_"
TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is a hint, not a log: write it at most this often
READ, SYNC, ADMIN = "read", "sync", "admin"
SCOPES = (READ, SYNC, ADMIN)
DEFAULT_DAYS, MAX_DAYS = 90, 365


def hash_token(token: str) -> str:
    """Return the stored form of a token (tokens are 256-bit random, so a plain SHA-256 is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(requested: Iterable[str]) -> tuple[str, ...]:
    """Return the scopes of a new token: always read, plus the known ones asked for; refuse unknown ones."""
    asked = {s.strip().lower() for s in requested if s and s.strip()}
    unknown = asked - set(SCOPES)
    if unknown:
        raise UserError(f"unknown token scope {sorted(unknown)[0]!r}; use {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s == READ or s in asked)


def parse_days(raw: object) -> int:
    """Return a token lifetime in days (1-365; empty means the default of 90)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT_DAYS
    try:
        days = int(str(raw).strip())
    except ValueError:
        raise UserError(f"the lifetime must be a whole number of days from 1 to {MAX_DAYS}") from None
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"the lifetime must be a whole number of days from 1 to {MAX_DAYS}")
    return days


def create_token(user: User, name: str, scopes: Iterable[str] = (), days: int = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """Create a token for a user; return the row and the token text, which is never shown again."""
    label = name.strip()[:100] or "token"
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=label, token_hash=hash_token(token), scopes=" ".join(parse_scopes(scopes)),
                   expires_at=datetime.now(timezone.utc) + timedelta(days=days))
    db.session.add(row)
    db.session.commit()
    return row, token


def create_token_for(username: str, name: str, scopes: Iterable[str] = (),
                     days: int = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """Create a token for the named user."""
    user = find_user(username)
    if user is None:
        raise UserError(f"there is no user named {username!r}")
    return create_token(user, name, scopes, days)


def user_tokens(user_id: int) -> list[ApiToken]:
    """Return a user's tokens, newest first (revoked and expired ones included)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(token_id: int, *, user_id: int | None = None) -> ApiToken | None:
    """Revoke a token (only the given user's when user_id is set); return it, or None when there is no such token."""
    row = db.session.get(ApiToken, token_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        return None
    if row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
        db.session.commit()
    return row


def revoke_all(user_id: int) -> int:
    """Revoke every live token of a user (password change, disabling); return how many. Does not commit."""
    result = db.session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(timezone.utc)))
    return result.rowcount or 0


def principal_for_token(token: str) -> Principal | None:
    """Return the active user a live, unexpired token belongs to (with the token's scopes), or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = datetime.now(timezone.utc)
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                                                   ApiToken.revoked_at.is_(None)))
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    _touch(row)
    return principal_of(user, via_token=True, scopes=frozenset(row.scopes.split()))


def _touch(row: ApiToken) -> None:
    now = datetime.now(timezone.utc)
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
        db.session.commit()
