"""What happens to an account as a whole: disabling, enabling and changing the password (for the pages and the CLI).

Each ends what must not outlive it: disabling ends every session and revokes every token (so enabling the user
again does not bring old tokens back); a new password revokes every token and ends every other session."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from tickettracker.store.extensions import db, redis_client
from tickettracker.store.models import User
from tickettracker.web.auth import audit, sessions, tokens
from tickettracker.web.auth.users import set_active, set_password


def disable_user(username: str, actor: str | None) -> tuple[User, int]:
    """Disable a user, revoke their tokens, end their sessions (open event streams close) and audit it.

    Return the user and how many sessions ended, or -1 when Redis is down (PostgreSQL, which every request checks,
    has the account disabled regardless)."""
    user = set_active(username, False)
    revoked = tokens.revoke_all(user.id)
    db.session.commit()
    ended = sessions.end_all(redis_client(), user.id)
    audit.record("user.disable", actor, user.username, {"tokensRevoked": revoked} if revoked else None)
    return user, ended


def enable_user(username: str, actor: str | None) -> User:
    """Enable a disabled user again and audit it (their old tokens stay revoked)."""
    user = set_active(username, True)
    audit.record("user.enable", actor, user.username)
    return user


def change_password(username: str, password: str, actor: str | None, *, keep_session: str | None = None) -> int:
    """Set a new password, revoke the user's tokens and end their sessions except `keep_session`; audit it.

    Return how many tokens were revoked."""
    user = set_password(username, password)
    try:
        revoked = tokens.revoke_all(user.id)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    sessions.end_all(redis_client(), user.id, keep=keep_session)
    audit.record("user.password", actor, user.username, {"tokensRevoked": revoked} if revoked else None)
    return revoked
