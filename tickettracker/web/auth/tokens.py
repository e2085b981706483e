"""Per-user API tokens for scripts: shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tickettracker.store.extensions import db
from tickettracker.store.models import ApiToken, User
from tickettracker.web.auth.users import Principal, UserError, find_user, principal_of

PREFIX = "tt_"
TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is a hint, not a log: write it at most this often


def hash_token(token: str) -> str:
    """Return the stored form of a token (tokens are 256-bit random, so a plain SHA-256 is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for a user; return the row and the token text, which is never shown again."""
    label = name.strip()[:100] or "token"
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=label, token_hash=hash_token(token))
    db.session.add(row)
    db.session.commit()
    return row, token


def create_token_for(username: str, name: str) -> tuple[ApiToken, str]:
    """Create a token for the named user."""
    user = find_user(username)
    if user is None:
        raise UserError(f"there is no user named {username!r}")
    return create_token(user, name)


def user_tokens(user_id: int) -> list[ApiToken]:
    """Return a user's tokens, newest first (revoked ones included)."""
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


def principal_for_token(token: str) -> Principal | None:
    """Return the active user a live token belongs to, or None."""
    if not token.startswith(PREFIX):
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                                                   ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    _touch(row)
    return principal_of(user, via_token=True)


def _touch(row: ApiToken) -> None:
    now = datetime.now(timezone.utc)
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        row.last_used_at = now
        db.session.commit()
