"""Server-side record of browser sessions in Redis, so sign-out, expiry and disabling a user end them everywhere."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from flask import Flask, current_app, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from redis import Redis
from redis.exceptions import RedisError

from tickettracker.store import generations
from tickettracker.store.extensions import redis_client
from tickettracker.store.health import ServiceUnavailable

log = logging.getLogger(__name__)

SID = "sid"
SIGNED_IN_AT = "signed_in_at"


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per secret key rather than on every
    request (building one serializes a probe value to tell text from bytes)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[object, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        found = self._serializers.get(key)
        if found is None:
            found = super().get_signing_serializer(app)
            if found is not None:
                self._serializers = {key: found}  # one secret at a time: a new key replaces the old one
        return found


def session_key(sid: str) -> str:
    """Return the Redis key that records a live session."""
    return f"tickettracker:session:{sid}"


def _user_key(user_id: int) -> str:
    return f"tickettracker:user-sessions:{user_id}"


def lifetime_seconds() -> int:
    """Return how long a sign-in lasts (SESSION_HOURS), counted from the moment of sign-in."""
    return int(current_app.permanent_session_lifetime.total_seconds())


def start(user_id: int) -> None:
    """Record a new session for the user in the (already cleared) Flask session and in Redis."""
    sid, ttl = secrets.token_urlsafe(24), lifetime_seconds()
    session[SID], session[SIGNED_IN_AT] = sid, int(time.time())
    session.permanent = True
    try:
        with redis_client().pipeline(transaction=True) as pipe:
            pipe.set(session_key(sid), user_id, ex=ttl)
            pipe.sadd(_user_key(user_id), sid)
            pipe.expire(_user_key(user_id), ttl)
            pipe.execute()
    except RedisError as exc:  # a session Redis does not know could never be ended: refuse the sign-in
        session.clear()
        raise ServiceUnavailable(f"cannot record the session in Redis: {exc}") from None


def end(sid: str | None) -> None:
    """Forget one session."""
    if not sid:
        return
    try:
        redis_client().delete(session_key(sid))
    except RedisError as exc:
        log.warning("could not end the session in Redis: %s", exc)


def end_all(redis: Redis, user_id: int, keep: str | None = None) -> int:
    """End every session of a user but `keep` (disabled user, new password); return how many ended, or -1 when
    Redis is down."""
    try:
        sids = [s.decode() if isinstance(s, bytes) else s for s in redis.smembers(_user_key(user_id))]
        ending = [s for s in sids if s != keep]
        with redis.pipeline(transaction=True) as pipe:
            if ending:
                pipe.delete(*(session_key(s) for s in ending))
                pipe.srem(_user_key(user_id), *ending)
            if keep is None:
                pipe.delete(_user_key(user_id))
            pipe.execute()
    except RedisError as exc:  # the account change is in PostgreSQL, which every request checks
        log.warning("could not end the sessions of user %s in Redis: %s", user_id, exc)
        return -1
    return len(ending)


def _alive_with_generations(redis: Redis, sid: str) -> bool | None:
    """Whether the session is recorded in Redis, with the data generations read in the same command for the rest of
    a read-only request (store/generations.py)."""
    try:
        recorded, *values = redis.mget(session_key(sid), *generations.KEYS)
    except RedisError as exc:
        log.warning("session check unavailable: %s", exc)
        return None
    generations.remember_for_request(values)
    return recorded is not None


def current_state() -> bool | None:
    """Return whether the Flask session is a live sign-in (recorded in Redis and younger than its lifetime), or
    None when it is young enough but Redis cannot say whether it was ended."""
    sid, started = session.get(SID), session.get(SIGNED_IN_AT)
    if not sid or not isinstance(started, int) or time.time() - started > lifetime_seconds():
        return False
    return _alive_with_generations(redis_client(), sid)


def stream_deadline() -> Callable[[], bool]:
    """Return a check for long streams: True until this request's sign-in reaches the end of its lifetime. (Whether
    the session was ended or the user disabled meanwhile, web/stream_keeper.py checks for every stream at once.)"""
    started = session.get(SIGNED_IN_AT)
    if not session.get(SID) or not isinstance(started, int):
        return lambda: False
    deadline = started + lifetime_seconds()
    return lambda: time.time() < deadline
